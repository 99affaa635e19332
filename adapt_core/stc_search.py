"""STC's search on cached features: per-layer probes, neuron selection by η, the η × k grid of heads, the choice.

Everything here reads train and dev features only (the caller passes no test labels), so every choice is made on
dev. See `stc_fit.py` for the method and `stc_features.py` for where the features come from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from adapt_core.stc_model import StcHead
from adapt_core.stc_solver import L1Fit, Standardizer, fit_path, logits, softmax

if TYPE_CHECKING:
    from adapt_core.stc_config import StcConfig


def neuron_importance(coef: np.ndarray) -> np.ndarray:
    """(d,) Σ_c (w_ci − mean_c w_ci)² of a (num_classes, d) probe: squared weight summed over classes."""
    centred = coef - coef.mean(axis=0, keepdims=True)
    return (centred.astype(np.float64) ** 2).sum(axis=0)


def select_neurons(importance: np.ndarray, eta: float) -> np.ndarray:
    """Indices of the fewest neurons whose importance reaches η of the total, most important first (≥ 1)."""
    order = np.argsort(-importance, kind="stable")
    cumulative = np.cumsum(importance[order])
    total = cumulative[-1]
    if total <= 0:  # an all-zero probe ranks nothing; keep one neuron so every layer still contributes
        return order[:1]
    # The crossing neuron is kept; the relative slack absorbs rounding in the sum (η = 1 keeps every nonzero one).
    count = int(np.searchsorted(cumulative, eta * total * (1 - 1e-9), side="left")) + 1
    return order[: min(count, len(order))]


def k_candidates(num_layers: int, max_candidates: int) -> list[int]:
    """Values of k to try: all of 1..L, or `max_candidates` evenly spread ones that always include L."""
    if num_layers <= max_candidates:
        return list(range(1, num_layers + 1))
    if max_candidates == 1:
        return [num_layers]
    return sorted({int(round(v)) for v in np.linspace(1, num_layers, max_candidates)})


def scores(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Macro-F1 (over classes in truth or prediction, as `evaluate` does), accuracy and log-loss."""
    from sklearn.metrics import f1_score

    pred = proba.argmax(1)
    present = np.union1d(np.unique(y), np.unique(pred))
    p_true = np.clip(proba[np.arange(len(y)), y], 1e-15, None)
    return {
        "macro_f1": float(f1_score(y, pred, labels=present, average="macro", zero_division=0)),
        "accuracy": float((pred == y).mean()),
        "log_loss": float(-np.log(p_true).mean()),
    }


@dataclass
class Probe:
    """The best-dev L1 probe of one (representation, pooling, layer)."""

    representation: str
    pooling: str
    layer: int
    fit: L1Fit
    standardizer: Standardizer
    dev: dict[str, float]

    @property
    def importance(self) -> np.ndarray:
        return neuron_importance(self.fit.coef)

    def row(self) -> dict:
        return {
            "representation": self.representation,
            "pooling": self.pooling,
            "layer": self.layer,
            "C": self.fit.C,
            "width": int(self.fit.coef.shape[1]),
            "nonzero_neurons": int(np.count_nonzero(np.abs(self.fit.coef).sum(0))),
            **{f"dev_{k}": v for k, v in self.dev.items()},
        }


@dataclass
class Head:
    """One head of the grid: the best-dev C for (representation, pooling, η, k)."""

    representation: str
    pooling: str
    eta: float
    k: int
    kept: list[int]  # neurons kept in each layer < k (a prefix of the η_max order)
    fit: L1Fit
    dev: dict[str, float]

    def row(self) -> dict:
        return {
            "representation": self.representation,
            "pooling": self.pooling,
            "eta": self.eta,
            "k": self.k,
            "features": int(sum(self.kept)),
            "C": self.fit.C,
            **{f"dev_{k}": v for k, v in self.dev.items()},
        }


class Tracker:
    """Step counter shared by progress (status.json with ETA) and metrics lines (each with step and loss)."""

    def __init__(self, run, total: int):
        self.run, self.total, self.step = run, total, 0

    def tick(self, record: dict | None = None) -> None:
        self.step += 1
        if record is not None:
            self.run.log({"step": self.step, **record})
        self.run.progress(self.step, self.total)

    def finish(self) -> None:
        self.step = self.total
        self.run.progress(self.total, self.total)


def _best(fits: list[L1Fit], x_dev: np.ndarray, y_dev: np.ndarray, metric: str) -> tuple[L1Fit, dict]:
    """The fit with the best dev metric (ties: lower log-loss, then the smaller C, which comes first)."""
    best, best_key, best_scores = None, None, None
    for fit in fits:
        s = scores(y_dev, softmax(logits(fit, x_dev)))
        key = (s[metric], -s["log_loss"])
        if best_key is None or key > best_key:
            best, best_key, best_scores = fit, key, s
    return best, best_scores


def fit_probes(
    store, y_train, y_dev, num_classes: int, num_layers: int, config: StcConfig, device, tracker: Tracker
) -> dict[tuple[str, str, int], Probe]:
    """Every (representation, pooling, layer) probe, C chosen on dev; one metrics line each."""
    probes = {}
    for rep in config.representations:
        for layer in range(num_layers):
            for pooling in config.poolings:
                raw = store.get("train", rep, layer, pooling)
                std = Standardizer.fit(raw)
                fits = fit_path(
                    std(raw), y_train, num_classes, config.probe_cs, config.max_iter, config.tol, config.solver, device
                )
                fit, dev = _best(fits, std(store.get("dev", rep, layer, pooling)), y_dev, config.metric)
                probe = probes[(rep, pooling, layer)] = Probe(rep, pooling, layer, fit, std, dev)
                tracker.tick({"loss": dev["log_loss"], "phase": "probe", **probe.row()})
    return probes


def _kept_features(store, split: str, probes: list[Probe], orders: list[np.ndarray]) -> list[np.ndarray]:
    """Per layer, the standardised features of the neurons in `orders` (the η_max selection), in that order."""
    return [
        p.standardizer.subset(o)(
            store.get(split, p.representation, p.layer, p.pooling, np.sort(o))[:, np.argsort(np.argsort(o))]
        )
        for p, o in zip(probes, orders, strict=True)
    ]


@dataclass
class _PoolFeatures:
    """Kept-neuron features of one (representation, pooling), per layer, for the largest η (others are prefixes)."""

    probes: list[Probe]
    train: list[np.ndarray]  # per layer (n_train, kept at η_max)
    dev: list[np.ndarray]

    @classmethod
    def load(cls, store, probes: list[Probe], eta_max: float) -> _PoolFeatures:
        orders = [select_neurons(p.importance, eta_max) for p in probes]
        return cls(probes, _kept_features(store, "train", probes, orders), _kept_features(store, "dev", probes, orders))

    def counts(self, eta: float) -> list[int]:
        return [len(select_neurons(p.importance, eta)) for p in self.probes]

    def x(self, split: str, counts: list[int], k: int) -> np.ndarray:
        """(n, Σ counts[:k]) features of layers [0, k), each layer's most important neurons first."""
        parts = self.train if split == "train" else self.dev
        return np.hstack([parts[i][:, : counts[i]] for i in range(k)])


def screening_c(probes: list[Probe], cs: tuple[float, ...]) -> float:
    """The grid value nearest (in log scale) to the median C the layer probes chose: the heads' first guess."""
    median = float(np.median([p.fit.C for p in probes]))
    return min(cs, key=lambda c: abs(np.log(c) - np.log(median)))


def fit_heads(
    store, probes: dict, y_train, y_dev, num_classes: int, num_layers: int, config: StcConfig, device, tracker: Tracker
) -> tuple[list[dict], dict[int, Head]]:
    """The η × k grid of heads for every (representation, pooling); the table and the best head per k.

    Two stages keep it affordable: every grid point is fitted at one C (the screening C, from the probes' choices,
    warm-started from the previous k), then the best `refine_top` points are refitted over the whole `head_cs`
    grid. Both stages score on dev only.
    """
    rows, best_by_k, top = [], {}, []
    ks = k_candidates(num_layers, config.max_k_candidates)
    for rep in config.representations:
        for pooling in config.poolings:
            layer_probes = [probes[(rep, pooling, layer)] for layer in range(num_layers)]
            feats = _PoolFeatures.load(store, layer_probes, max(config.etas))
            c = screening_c(layer_probes, config.head_cs)
            for eta in sorted(config.etas):
                counts, init = feats.counts(eta), None
                for k in ks:
                    x = feats.x("train", counts, k)
                    init = fit_path(
                        x,
                        y_train,
                        num_classes,
                        (c,),
                        config.screen_max_iter,
                        config.tol,
                        config.solver,
                        device,
                        init=_pad(init, x.shape[1]),
                    )
                    fit, dev = _best(init, feats.x("dev", counts, k), y_dev, config.metric)
                    head = Head(rep, pooling, eta, k, counts[:k], fit, dev)
                    _record(head, "screen", rows, best_by_k, tracker, config.metric)
                    ranked = sorted([*top, head], key=lambda h: _head_key(h, config.metric))
                    top = ranked[-config.refine_top :] if config.refine_top else []
    for head in top:
        _refine(store, probes, head, y_train, y_dev, num_classes, config, device, rows, best_by_k, tracker)
    return rows, best_by_k


def _refine(store, probes, head: Head, y_train, y_dev, num_classes, config, device, rows, best_by_k, tracker):
    """Refit one screened grid point over the whole head C grid; keep whichever C is best on dev."""
    layer_probes = [probes[(head.representation, head.pooling, layer)] for layer in range(head.k)]
    feats = _PoolFeatures.load(store, layer_probes, head.eta)
    x = feats.x("train", head.kept, head.k)
    # Every C at the full iteration cap, each warm-started from the screened solution.
    fits = fit_path(
        x,
        y_train,
        num_classes,
        config.head_cs,
        config.max_iter,
        config.tol,
        config.solver,
        device,
        init=[head.fit] * len(config.head_cs) if config.solver == "torch" else None,
    )
    fit, dev = _best(fits, feats.x("dev", head.kept, head.k), y_dev, config.metric)
    refined = Head(head.representation, head.pooling, head.eta, head.k, head.kept, fit, dev)
    _record(refined, "refine", rows, best_by_k, tracker, config.metric)


def _record(head: Head, stage: str, rows: list, best_by_k: dict, tracker: Tracker, metric: str) -> None:
    row = {**head.row(), "stage": stage}
    rows.append(row)
    tracker.tick({"loss": head.dev["log_loss"], "phase": "head", **row})
    if head.k not in best_by_k or _head_key(head, metric) > _head_key(best_by_k[head.k], metric):
        best_by_k[head.k] = head


def _pad(fits: list[L1Fit] | None, width: int) -> list[L1Fit] | None:
    """Heads on the first columns, widened with zero weights for new columns (warm start for a larger k)."""
    if fits is None:
        return None
    padded = []
    for fit in fits:
        coef = np.zeros((fit.coef.shape[0], width), dtype=np.float32)
        coef[:, : fit.coef.shape[1]] = fit.coef
        padded.append(L1Fit(coef, fit.intercept, fit.C, 0))
    return padded


def _head_key(head: Head, metric: str) -> tuple:
    """Higher is better: dev metric, then lower log-loss, then fewer features."""
    return (head.dev[metric], -head.dev["log_loss"], -sum(head.kept))


def choose(best_by_k: dict[int, Head], metric: str, tolerance: float) -> Head:
    """The smallest k whose best head is within `tolerance` of the best dev score (0: the best; ties: smaller k)."""
    top = max(h.dev[metric] for h in best_by_k.values())
    return next(best_by_k[k] for k in sorted(best_by_k) if best_by_k[k].dev[metric] >= top - tolerance - 1e-12)


def build_head(head: Head, probes: dict, label_names: list[str], token: str, max_length: int) -> StcHead:
    """The chosen grid point as an StcHead in raw-feature space (neurons by layer, with their standardisation)."""
    layers, neurons, means, scales, saliency = [], [], [], [], []
    for layer in range(head.k):
        probe = probes[(head.representation, head.pooling, layer)]
        order = select_neurons(probe.importance, head.eta)
        layers.append(np.full(len(order), layer))
        neurons.append(order)
        means.append(probe.standardizer.mean[order])
        scales.append(probe.standardizer.scale[order])
        importance = probe.importance
        saliency.append(importance[order] / max(importance.sum(), 1e-30))  # share of the layer's squared weight
    info = {
        "representation": head.representation,
        "pooling": head.pooling,
        "eta": head.eta,
        "k": head.k,
        "C": head.fit.C,
        "neurons_per_layer": [int(n) for n in head.kept],
        "features": int(sum(head.kept)),
    }
    return StcHead(
        head.representation,
        head.pooling,
        head.k,
        np.concatenate(layers).astype(np.int64),
        np.concatenate(neurons).astype(np.int64),
        np.concatenate(means),
        np.concatenate(scales),
        head.fit.coef.astype(np.float32),
        head.fit.intercept.astype(np.float32),
        np.concatenate(saliency).astype(np.float32),
        label_names,
        token,
        max_length,
        info,
    )


def head_features(store, split: str, head: StcHead) -> np.ndarray:
    """(n, F) raw features of a split for an StcHead, read from the cache."""
    return np.hstack(
        [
            store.get(split, head.representation, int(layer), head.pooling, head.neurons[head.layers == layer])
            for layer in np.unique(head.layers)
        ]
    )
