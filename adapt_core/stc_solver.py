"""L1-regularised multinomial logistic regression for STC's probes and heads: a torch solver and scikit-learn's.

Both minimise scikit-learn's objective  C · Σ_i CE(x_i W + b, y_i) + ‖W‖₁  (intercept b not penalised), written
here as  (1/n) Σ_i CE + λ‖W‖₁  with λ = 1/(C·n), on standardised features (mean 0, variance 1 on train).

- `solver="torch"` (default): FISTA (accelerated proximal gradient, soft-thresholding) with adaptive restart, a
  step of 1/L where L = ½·σ_max([X 1])²/n (the softmax cross-entropy Hessian is at most ½ in every direction,
  σ_max by power iteration, shared by every C on the same X), warm-started along the C path (small C first, so each
  fit starts from a sparser solution) and stopped when no coefficient moves by more than `tol` relative to the
  largest. Every iteration is two dense matmuls, so it uses all BLAS threads on a CPU and runs on a GPU unchanged.
- `solver="sklearn"`: `LogisticRegression(l1_ratio=1, solver="saga")`, the reference. saga's per-example updates
  are single-threaded and, for K classes, touch K·d weights per example; on STC's sizes (thousands of examples,
  hundreds to thousands of neurons, up to 77 classes) it is several times slower at the same objective value.
  `tests/test_stc.py` checks that both reach the same objective and predictions; `benchmarks/stc.py` times them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch

SOLVERS = ("torch", "sklearn")
SMALL_PROBLEM = 2_000_000  # examples × features × classes below which one thread is faster


@dataclass
class L1Fit:
    """A fitted probe/head in standardised feature space: logits = x_std @ coef.T + intercept."""

    coef: np.ndarray  # (num_classes, d)
    intercept: np.ndarray  # (num_classes,)
    C: float
    n_iter: int

    @property
    def nonzero(self) -> int:
        return int(np.count_nonzero(self.coef))

    def proba(self, x: np.ndarray) -> np.ndarray:
        """(n, K) class probabilities of standardised x (n, d)."""
        return softmax(logits(self, x))


@dataclass
class Standardizer:
    """Train mean and scale per feature; constant features get scale 1 (they carry no signal, and stay 0)."""

    mean: np.ndarray  # (d,)
    scale: np.ndarray  # (d,)

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardizer:
        mean = x.mean(0, dtype=np.float64)
        std = x.std(0, dtype=np.float64)
        std[std < 1e-6] = 1.0
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale).astype(np.float32)

    def subset(self, columns: np.ndarray) -> Standardizer:
        return Standardizer(self.mean[columns], self.scale[columns])


def lipschitz(x: torch.Tensor, iters: int = 30) -> float:
    """½·σ_max([x 1])²/n by power iteration (times 1.05: power iteration approaches σ_max from below)."""
    n = x.shape[0]
    gen = torch.Generator(device="cpu").manual_seed(0)
    v = torch.randn(x.shape[1] + 1, generator=gen).to(x)
    sigma2 = 0.0
    for _ in range(iters):
        u = x @ v[:-1] + v[-1]  # (n,)
        w = torch.cat([x.T @ u, u.sum().reshape(1)])  # [x 1]^T [x 1] v
        sigma2 = float(w.norm())
        v = w / max(sigma2, 1e-30)
    return 1.05 * 0.5 * sigma2 / n


def _soft(z: torch.Tensor, t: float) -> torch.Tensor:
    return torch.sign(z) * torch.clamp(z.abs() - t, min=0.0)


def _cross_entropy(z: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of logits z (n, K)."""
    return (torch.logsumexp(z, dim=1) - (z * onehot).sum(1)).mean()


def fista(x: torch.Tensor, y: torch.Tensor, num_classes: int, C: float, lip: float, max_iter: int, tol: float,
          init: tuple[torch.Tensor, torch.Tensor] | None = None,
          window: int = 10) -> tuple[torch.Tensor, torch.Tensor, int, float]:
    """(W (d, K), b (K,), iterations, final L) minimising (1/n)ΣCE + λ‖W‖₁, λ = 1/(C·n).

    FISTA with backtracking (L doubles when the quadratic bound fails, and shrinks by 10 % per step otherwise, so
    steps follow the local curvature rather than the global bound `lip`) and adaptive restart. The logits of the
    extrapolated point are a linear combination of cached logits, so every iteration costs two matmuls and yields
    the objective for free. Stops when `window` iterations lowered the objective by less than `tol`, relatively
    (a step-size rule stops too early here: with correlated neurons single steps look negligible).
    """
    n, d = x.shape
    lam = 1.0 / (C * n)
    w, b = init if init is not None else (x.new_zeros(d, num_classes), x.new_zeros(num_classes))
    onehot = torch.nn.functional.one_hot(y, num_classes).to(x.dtype)  # (n, K)
    zw, zb, z_logits, t = w, b, x @ w + b, 1.0
    w_logits, history = z_logits, []
    for iterations in range(1, max_iter + 1):  # noqa: B007 (returned)
        residual = (torch.softmax(z_logits, dim=1) - onehot) / n  # (n, K): d(mean CE)/d(logits) at z
        gw, gb, f_z = x.T @ residual, residual.sum(0), float(_cross_entropy(z_logits, onehot))
        while True:
            w_new, b_new = _soft(zw - gw / lip, lam / lip), zb - gb / lip
            new_logits = x @ w_new + b_new
            f_new = float(_cross_entropy(new_logits, onehot))
            dw, db = w_new - zw, b_new - zb
            bound = f_z + float((gw * dw).sum() + (gb * db).sum()) + lip / 2 * float((dw * dw).sum() + (db * db).sum())
            if f_new <= bound + 1e-12 * abs(f_z):
                break
            lip *= 2.0
        # Adaptive restart (O'Donoghue & Candès): drop the momentum when it points uphill.
        uphill = float(((zw - w_new) * (w_new - w)).sum() + ((zb - b_new) * (b_new - b)).sum()) > 0
        t_new = 1.0 if uphill else (1 + (1 + 4 * t * t) ** 0.5) / 2
        beta = 0.0 if uphill else (t - 1) / t_new
        zw, zb = w_new + beta * (w_new - w), b_new + beta * (b_new - b)
        z_logits = new_logits + beta * (new_logits - w_logits)  # = x @ zw + zb, without a matmul
        w, b, w_logits, t, lip = w_new, b_new, new_logits, t_new, lip * 0.9
        history.append(f_new + lam * float(w.abs().sum()))
        if len(history) > window and history[-window - 1] - history[-1] <= tol * abs(history[-1]):
            break
    return w, b, iterations, lip


def fit_path(x: np.ndarray, y: np.ndarray, num_classes: int, cs: tuple[float, ...], max_iter: int, tol: float,
             solver: str = "torch", device: str | torch.device = "cpu", seed: int = 0,
             init: L1Fit | None = None) -> list[L1Fit]:
    """One fit per C (ascending), each warm-started from the previous; x is standardised (n, d).

    `init` (torch only) warm-starts the first C, e.g. from a head on a subset of these features padded with zeros.
    """
    cs = tuple(sorted(cs))
    if solver == "sklearn":
        return [_fit_sklearn(x, y, num_classes, c, max_iter, tol, seed) for c in cs]
    present, y_local = np.unique(y, return_inverse=True)  # fit only the classes train has (as saga does)
    xt = torch.as_tensor(x, dtype=torch.float32, device=device)
    yt = torch.as_tensor(y_local, dtype=torch.long, device=device)
    if init is not None:
        init = (torch.as_tensor(init.coef[present].T.copy(), device=device),
                torch.as_tensor(init.intercept[present].copy(), device=device))
    fits = []
    with _threads(1 if x.size * len(present) < SMALL_PROBLEM else None):
        lip = lipschitz(xt) / 8  # a guess below the global bound; backtracking raises it where needed
        for c in cs:
            w, b, it, lip = fista(xt, yt, len(present), c, lip, max_iter, tol, init)
            init = (w, b)
            fits.append(_scatter(w.T.cpu().numpy(), b.cpu().numpy(), present, num_classes, c, it))
    return fits


@contextlib.contextmanager
def _threads(count: int | None):
    """Run small problems on one CPU thread: their matmuls are too short to split, and on a busy machine the
    threads' hand-offs cost more than the work (measured: 7x slower with 2 threads under load)."""
    before = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _scatter(coef: np.ndarray, intercept: np.ndarray, present: np.ndarray, num_classes: int, C: float,
             n_iter: int) -> L1Fit:
    """Rows of the classes present in train into the full (num_classes, d) layout; absent classes never win."""
    full_coef = np.zeros((num_classes, coef.shape[1]), dtype=np.float32)
    full_intercept = np.full(num_classes, -1e4, dtype=np.float32)
    full_coef[present], full_intercept[present] = coef, intercept
    return L1Fit(full_coef, full_intercept, C, n_iter)


def _fit_sklearn(x: np.ndarray, y: np.ndarray, num_classes: int, C: float, max_iter: int, tol: float,
                 seed: int) -> L1Fit:
    """saga on the classes present in y, scattered back into the full (num_classes, d) layout."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, l1_ratio=1.0, solver="saga", max_iter=max_iter, tol=tol, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y)
    if len(clf.classes_) == 2:  # binary: one weight vector w; softmax over (-w/2, w/2) equals sigmoid(w)
        coef = np.stack([-clf.coef_[0] / 2, clf.coef_[0] / 2])
        intercept = np.array([-clf.intercept_[0] / 2, clf.intercept_[0] / 2])
    else:
        coef, intercept = clf.coef_, clf.intercept_
    return _scatter(coef, intercept, clf.classes_, num_classes, C, int(np.max(clf.n_iter_)))


def logits(fit: L1Fit, x: np.ndarray) -> np.ndarray:
    """(n, K) logits of standardised x."""
    return x @ fit.coef.T + fit.intercept


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def objective(fit: L1Fit, x: np.ndarray, y: np.ndarray) -> float:
    """(1/n)ΣCE + ‖W‖₁/(C·n): what both solvers minimise (used by the test that compares them)."""
    p = softmax(logits(fit, x).astype(np.float64))
    ce = -np.log(np.clip(p[np.arange(len(y)), y], 1e-300, None)).mean()
    return float(ce + np.abs(fit.coef).sum() / (fit.C * len(y)))
