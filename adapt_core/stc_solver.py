"""L1-regularised multinomial logistic regression for STC's probes and heads: a torch solver and scikit-learn's.

Both minimise scikit-learn's objective  C · Σ_i CE(x_i W + b, y_i) + ‖W‖₁  (intercept b not penalised), written
here as  (1/n) Σ_i CE + λ‖W‖₁  with λ = 1/(C·n), on standardised features (mean 0, variance 1 on train).

- `solver="torch"` (default): FISTA (accelerated proximal gradient with soft-thresholding) with backtracking and
  adaptive restart. Grid values of C are solved side by side in one (d, G·K) weight matrix when K is small, so each
  iteration's two GEMMs read X once for several C (narrow GEMMs are memory-bound: measured 1.4-2x at K=7); with
  many classes one C after another, warm-started, is faster (measured 2x at K=77). Each C keeps its own step,
  momentum and stopping test. Dense matmuls only: all BLAS threads on a CPU, and a GPU unchanged.
- `solver="sklearn"`: `LogisticRegression(solver="saga")` with a pure L1 penalty, the reference. saga's
  per-example updates are single-threaded and touch K·d weights per example; on a last-layer MiniLM probe
  (1000 × 384, 7 classes) it took 14x longer than the torch solver to reach the same objective
  (`benchmarks/stc_accuracy_cost.py`). `tests/test_stc.py` checks that both reach the same objective and predictions.
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
    """½·σ_max([x 1])²/n by power iteration: the global curvature bound of the mean cross-entropy."""
    n = x.shape[0]
    gen = torch.Generator(device="cpu").manual_seed(0)
    v = torch.randn(x.shape[1] + 1, generator=gen).to(x)
    sigma2 = 0.0
    for _ in range(iters):
        u = x @ v[:-1] + v[-1]  # (n,)
        w = torch.cat([x.T @ u, u.sum().reshape(1)])  # [x 1]^T [x 1] v
        sigma2 = float(w.norm())
        v = w / max(sigma2, 1e-30)
    return 0.5 * sigma2 / n


def _soft(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return torch.sign(z) * torch.clamp(z.abs() - t, min=0.0)


class _Grid:
    """The C grid as one problem: weights (d, G, K), intercepts (G, K), logits (n, G, K); per-C vectors (G,)."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, num_classes: int, cs: list[float]):
        self.x, self.n, self.shape = x, x.shape[0], (x.shape[1], len(cs), num_classes)
        self.onehot = torch.nn.functional.one_hot(y, num_classes).to(x.dtype)[:, None, :]  # (n, 1, K)
        self.lam = torch.tensor([1.0 / (c * self.n) for c in cs], dtype=x.dtype, device=x.device)  # (G,)

    def logits(self, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        d, g, k = self.shape
        return (self.x @ w.reshape(d, g * k)).reshape(self.n, g, k) + b

    def loss(self, z: torch.Tensor) -> torch.Tensor:
        """(G,) mean cross-entropy of each C's logits."""
        return (torch.logsumexp(z, dim=2) - (z * self.onehot).sum(2)).mean(0)

    def grad(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d, g, k = self.shape
        residual = (torch.softmax(z, dim=2) - self.onehot) / self.n  # (n, G, K): d(mean CE)/d(logits)
        return (self.x.T @ residual.reshape(self.n, g * k)).reshape(d, g, k), residual.sum(0)

    def penalty(self, w: torch.Tensor) -> torch.Tensor:
        return self.lam * w.abs().sum((0, 2))  # (G,)


def fista(
    x: torch.Tensor,
    y: torch.Tensor,
    num_classes: int,
    cs: list[float],
    lip: float,
    max_iter: int,
    tol: float,
    init: tuple[torch.Tensor, torch.Tensor] | None = None,
    window: int = 10,
) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """(W (d, G, K), b (G, K), iterations per C) minimising (1/n)ΣCE + λ_g‖W_g‖₁, λ_g = 1/(C_g·n), for every C.

    Backtracking: a C's L doubles when the quadratic upper bound fails and shrinks 10 % per step otherwise, so
    steps follow the local curvature rather than the global bound `lip`. The extrapolated point's logits are a
    linear combination of cached logits, so an iteration costs two GEMMs and yields the objective for free.
    A C has converged when `window` iterations lowered its objective by less than `tol`, relatively (a step-size
    rule stops too early here: with correlated neurons single steps look negligible); all converged → stop.
    """
    grid = _Grid(x, y, num_classes, cs)
    g = len(cs)
    w, b = init if init is not None else (x.new_zeros(grid.shape), x.new_zeros(g, num_classes))
    zw, zb, z_logits = w, b, grid.logits(w, b)
    w_logits, t = z_logits, torch.ones(g, dtype=x.dtype, device=x.device)
    lips = torch.full((g,), lip, dtype=x.dtype, device=x.device)
    history, stopped = [], torch.full((g,), max_iter)
    for iteration in range(1, max_iter + 1):
        gw, gb = grid.grad(z_logits)
        f_z = grid.loss(z_logits)
        w_new, b_new, new_logits, f_new = _backtrack(grid, zw, zb, gw, gb, f_z, lips)
        # Adaptive restart (O'Donoghue & Candès): drop a C's momentum when it points uphill.
        uphill = ((zw - w_new) * (w_new - w)).sum((0, 2)) + ((zb - b_new) * (b_new - b)).sum(1) > 0
        t_new = torch.where(uphill, torch.ones_like(t), (1 + torch.sqrt(1 + 4 * t * t)) / 2)
        beta = torch.where(uphill, torch.zeros_like(t), (t - 1) / t_new)
        zw, zb = w_new + beta[:, None] * (w_new - w), b_new + beta[:, None] * (b_new - b)
        z_logits = new_logits + beta[:, None] * (new_logits - w_logits)  # = logits(zw, zb), without a GEMM
        w, b, w_logits, t, lips = w_new, b_new, new_logits, t_new, lips * 0.9
        history.append(f_new + grid.penalty(w))
        done = _converged(history, window, tol).cpu()
        stopped = torch.where(done & (stopped == max_iter), torch.tensor(iteration), stopped)
        if bool(done.all()):
            break
    return w, b, stopped.tolist()


def _backtrack(grid: _Grid, zw, zb, gw, gb, f_z, lips):
    """A proximal step from (zw, zb) per C, doubling L where the quadratic bound fails (in place on `lips`)."""
    for _ in range(60):
        step = (1.0 / lips)[:, None]  # (G, 1)
        w_new, b_new = _soft(zw - gw * step, grid.lam[:, None] * step), zb - gb * step
        new_logits = grid.logits(w_new, b_new)
        f_new = grid.loss(new_logits)
        dw, db = w_new - zw, b_new - zb
        bound = f_z + (gw * dw).sum((0, 2)) + (gb * db).sum(1) + lips / 2 * ((dw * dw).sum((0, 2)) + (db * db).sum(1))
        failed = f_new > bound + 1e-6 * f_z.abs().clamp(min=1.0)  # slack: float32 rounding of cached logits
        if not bool(failed.any()):
            break
        lips[failed] *= 2.0
    return w_new, b_new, new_logits, f_new


def _converged(history: list[torch.Tensor], window: int, tol: float) -> torch.Tensor:
    if len(history) <= window:
        return torch.zeros_like(history[-1], dtype=torch.bool)
    old, new = history[-window - 1], history[-1]
    return old - new <= tol * new.abs()


def fit_path(
    x: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    cs: tuple[float, ...],
    max_iter: int,
    tol: float,
    solver: str = "torch",
    device: str | torch.device = "cpu",
    seed: int = 0,
    init: list[L1Fit] | None = None,
) -> list[L1Fit]:
    """One fit per C (ascending order); x is standardised (n, d).

    `init` (torch only, one L1Fit per C) warm-starts each C, e.g. from a head on a subset of these features padded
    with zeros.
    """
    cs = tuple(sorted(cs))
    if solver == "sklearn":
        return [_fit_sklearn(x, y, num_classes, c, max_iter, tol, seed) for c in cs]
    present, y_local = np.unique(y, return_inverse=True)  # fit only the classes train has (as saga does)
    xt = torch.as_tensor(x, dtype=torch.float32, device=device)
    yt = torch.as_tensor(y_local, dtype=torch.long, device=device)
    fits: list[L1Fit] = []
    with _threads(1 if x.size * len(present) < SMALL_PROBLEM else None):
        lip = lipschitz(xt) / 8  # a guess below the global bound; backtracking raises it where needed
        for chunk in _chunks(cs, len(present)):
            starts = [init[cs.index(c)] for c in chunk] if init is not None else fits[-1:] * len(chunk) or None
            w, b, iterations = fista(
                xt, yt, len(present), list(chunk), lip, max_iter, tol, _stack(starts, present, xt.device)
            )
            w, b = w.cpu().numpy(), b.cpu().numpy()
            fits += [_scatter(w[:, i].T, b[i], present, num_classes, c, iterations[i]) for i, c in enumerate(chunk)]
    return fits


def _chunks(cs: tuple[float, ...], num_classes: int, columns: int = 64) -> list[tuple[float, ...]]:
    """Groups of C solved together: up to `columns` weight columns per GEMM. Narrow problems (few classes) are
    memory-bound, so sharing one read of X across C values pays (measured 1.4-2x at K=7); wide ones are not, and
    then one C after another, each warm-started from the previous, wins (measured 2x at K=77)."""
    size = max(1, columns // num_classes)
    return [cs[i : i + size] for i in range(0, len(cs), size)]


def _stack(fits: list[L1Fit] | None, present: np.ndarray, device: torch.device):
    """(W (d, G, K'), b (G, K')) starting points for fista from full-layout fits, restricted to present classes."""
    if not fits:
        return None
    w = np.stack([f.coef[present].T for f in fits], axis=1)
    b = np.stack([f.intercept[present] for f in fits])
    return (
        torch.as_tensor(w, dtype=torch.float32, device=device),
        torch.as_tensor(b, dtype=torch.float32, device=device),
    )


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


def _scatter(
    coef: np.ndarray, intercept: np.ndarray, present: np.ndarray, num_classes: int, C: float, n_iter: int
) -> L1Fit:
    """Rows of the classes present in train into the full (num_classes, d) layout; absent classes never win."""
    full_coef = np.zeros((num_classes, coef.shape[1]), dtype=np.float32)
    full_intercept = np.full(num_classes, -1e4, dtype=np.float32)
    full_coef[present], full_intercept[present] = coef, intercept
    return L1Fit(full_coef, full_intercept, C, n_iter)


def _fit_sklearn(
    x: np.ndarray, y: np.ndarray, num_classes: int, C: float, max_iter: int, tol: float, seed: int
) -> L1Fit:
    """saga on the classes present in y, scattered back into the full (num_classes, d) layout."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=C, solver="saga", max_iter=max_iter, tol=tol, random_state=seed, **_l1_penalty())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y)
    if len(clf.classes_) == 2:  # binary: one weight vector w; softmax over (-w/2, w/2) equals sigmoid(w)
        coef = np.stack([-clf.coef_[0] / 2, clf.coef_[0] / 2])
        intercept = np.array([-clf.intercept_[0] / 2, clf.intercept_[0] / 2])
    else:
        coef, intercept = clf.coef_, clf.intercept_
    return _scatter(coef, intercept, clf.classes_, num_classes, C, int(np.max(clf.n_iter_)))


def _l1_penalty() -> dict:
    """scikit-learn ≥ 1.8 spells a pure L1 penalty `l1_ratio=1` (and deprecates `penalty`); older ones need
    `penalty="l1"` (where `l1_ratio` alone is ignored)."""
    import sklearn

    major, minor = (int(p) for p in sklearn.__version__.split(".")[:2])
    return {"l1_ratio": 1.0} if (major, minor) >= (1, 8) else {"penalty": "l1"}


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
