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


def _objective(x, y_onehot, w, b, lam) -> float:
    """(1/n)ΣCE + λ‖W‖₁ at (w, b)."""
    log_p = torch.log_softmax(x @ w + b, dim=1)
    return float(-(log_p * y_onehot).sum() / x.shape[0] + lam * w.abs().sum())


def fista(x: torch.Tensor, y: torch.Tensor, num_classes: int, C: float, lip: float, max_iter: int, tol: float,
          init: tuple[torch.Tensor, torch.Tensor] | None = None,
          check_every: int = 10) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(W (d, K), b (K,), iterations) minimising (1/n)ΣCE + λ‖W‖₁, λ = 1/(C·n).

    Stops when `check_every` iterations lowered the objective by less than `tol` relative to it (a step-size based
    rule stops too early here: with correlated neurons 1/L is small and every single step looks negligible).
    """
    n, d = x.shape
    lam, step = 1.0 / (C * n), 1.0 / lip
    w, b = init if init is not None else (x.new_zeros(d, num_classes), x.new_zeros(num_classes))
    zw, zb, t = w.clone(), b.clone(), 1.0
    onehot = torch.nn.functional.one_hot(y, num_classes).to(x.dtype)  # (n, K)
    previous = _objective(x, onehot, w, b, lam)
    iterations = 0
    while iterations < max_iter:
        iterations += 1
        residual = (torch.softmax(x @ zw + zb, dim=1) - onehot) / n  # (n, K): d(mean CE)/d(logits)
        w_new = _soft(zw - step * (x.T @ residual), step * lam)
        b_new = zb - step * residual.sum(0)
        # Adaptive restart (O'Donoghue & Candès): drop the momentum when it points uphill.
        uphill = float(((zw - w_new) * (w_new - w)).sum() + ((zb - b_new) * (b_new - b)).sum()) > 0
        t_new = 1.0 if uphill else (1 + (1 + 4 * t * t) ** 0.5) / 2
        beta = 0.0 if uphill else (t - 1) / t_new
        zw, zb = w_new + beta * (w_new - w), b_new + beta * (b_new - b)
        w, b, t = w_new, b_new, t_new
        if iterations % check_every == 0:
            current = _objective(x, onehot, w, b, lam)
            if abs(previous - current) <= tol * max(abs(current), 1e-12):
                break
            previous = current
    return w, b, iterations


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
        lip = lipschitz(xt)
        for c in cs:
            w, b, it = fista(xt, yt, len(present), c, lip, max_iter, tol, init)
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
