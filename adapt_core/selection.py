"""The sensitivity table and AdaPT's budgeted selection: instant, no model needed.

A `SensitivityReport` holds D and G per `nn.Linear` of the transformer blocks, as measured once by
`sensitivity.measure`. From it, `score(beta)` gives S = minmax(D) + β · minmax(G) (min-max across the rows of the
current grouping), `select(beta, top_k)` spends a budget of `top_k` % of the non-embedding parameters on the
highest-scoring rows, and `to_frame` / `to_dict` / `from_dict` show and cache it. Grouping (linear, block = the
attention or MLP part of a layer, layer) is applied on the fly, so the studio can switch it without measuring again.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from adapt_core.anatomy import block_kind
from adapt_core.errors import AdaptError

GROUPINGS = ("linear", "block", "layer")
DEFAULT_TOP_K = 10.0  # % of the non-embedding parameters: AdaPT's budget unless a config says otherwise

SELECTION_RULE = (
    "Modules are ranked by S = norm(D) + β · norm(G). Walking down the ranking, a module is taken when its parameters "
    "still fit in what is left of the budget (top-k % of the non-embedding parameters) and skipped otherwise. So a "
    "smaller module with a lower score can be in while a larger, higher-scored one is out; and a larger top-k can "
    "drop a module: a large higher-ranked module that now fits takes the room the smaller one had used."
)


@dataclass(frozen=True)
class ModuleStat:
    """One row of the report: an nn.Linear, or a group of them (block / layer grouping)."""

    module: str  # dotted name of the nn.Linear, or of its layer plus ":attention" / ":mlp" for a block
    layer: int
    type: str  # name inside the block ("attention.self.query"), "attention" / "mlp", or "layer"
    params: int  # weights + biases of the member modules
    D: float
    G: float
    members: tuple[str, ...] = ()  # the nn.Linear names this row stands for


@dataclass(frozen=True)
class Selection:
    """The modules AdaPT trains for one (β, top-k)."""

    modules: tuple[str, ...]  # nn.Linear names to train, by rank
    rows: tuple[str, ...]  # the selected report rows, by rank
    params: int  # parameters of the selected modules
    budget_params: float  # top_k % of the non-embedding parameters
    non_embedding_params: int
    beta: float
    top_k: float
    grouping: str

    @property
    def percent(self) -> float:
        """Realised share of the non-embedding parameters, in % (≤ top_k)."""
        return 100.0 * self.params / self.non_embedding_params

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "modules": list(self.modules),
            "rows": list(self.rows),
            "percent": self.percent,
        }


def _minmax(x: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; a constant column carries no ranking information and becomes all zeros."""
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def _check_budget(beta: float, top_k: float | None = None) -> None:
    if beta < 0:
        raise AdaptError(f"beta must be ≥ 0 (got {beta}): it weighs the gradient term, 0 ranks by dispersion only")
    if top_k is not None and not 0 < top_k <= 100:
        raise AdaptError(f"top_k must be in (0, 100] percent of the non-embedding parameters (got {top_k})")


@dataclass
class SensitivityReport:
    """D and G per nn.Linear (measured once) plus the grouping that `rows`, `score` and `select` work on."""

    linears: list[ModuleStat]
    non_embedding_params: int
    grouping: str = "linear"
    meta: dict = field(default_factory=dict)  # model class, calibration sizes, the SensitivityConfig

    @property
    def rows(self) -> list[ModuleStat]:
        """The units of selection: the linears themselves, or their block / layer groups."""
        return _group(self.linears, self.grouping)

    def regroup(self, grouping: str) -> SensitivityReport:
        """The same measurement seen at another grouping (no model needed)."""
        if grouping not in GROUPINGS:
            raise AdaptError(f"grouping must be one of {', '.join(GROUPINGS)} (got {grouping!r})")
        return SensitivityReport(self.linears, self.non_embedding_params, grouping, dict(self.meta))

    def score(self, beta: float = 1.0) -> np.ndarray:
        """S = minmax(D) + β · minmax(G) per row, normalised across the rows of the current grouping."""
        _check_budget(beta)
        rows = self.rows
        d = np.array([r.D for r in rows], dtype=np.float64)
        g = np.array([r.G for r in rows], dtype=np.float64)
        return _minmax(d) + beta * _minmax(g)

    def select(self, beta: float = 1.0, top_k: float = DEFAULT_TOP_K) -> Selection:
        """Rank rows by S (ties: model order); walk down the ranking and take every row that still fits.

        The budget is `top_k` % of the non-embedding parameters and is never exceeded: a row too large for what
        is left is skipped and smaller, lower-ranked rows may still fill the rest (greedy knapsack).
        """
        _check_budget(beta, top_k)
        rows, scores = self.rows, self.score(beta)
        budget = top_k / 100.0 * self.non_embedding_params
        chosen, used = [], 0
        for i in sorted(range(len(rows)), key=lambda i: (-scores[i], i)):
            if used + rows[i].params <= budget:
                chosen.append(rows[i])
                used += rows[i].params
        if not chosen:
            smallest = min(r.params for r in rows)
            need = math.ceil(1000.0 * smallest / self.non_embedding_params) / 10.0
            raise AdaptError(
                f"a budget of {top_k}% ({budget:,.0f} of {self.non_embedding_params:,} non-embedding parameters) is "
                f"smaller than the smallest {self.grouping} module ({smallest:,} parameters): raise top_k to at least "
                f"{need}%" + (" or use a finer grouping" if self.grouping != "linear" else "")
            )
        modules = tuple(m for r in chosen for m in r.members)
        return Selection(
            modules,
            tuple(r.module for r in chosen),
            used,
            budget,
            self.non_embedding_params,
            beta,
            top_k,
            self.grouping,
        )

    def selection_record(self, beta: float, top_k: float, source: str) -> dict:
        """What selection.json holds: the rule, the budget and every trained row with its D, G, S and size."""
        selection = self.select(beta, top_k)
        scores = dict(zip([r.module for r in self.rows], self.score(beta), strict=True))
        by_name = {r.module: r for r in self.rows}
        return {
            "rule": SELECTION_RULE,
            "beta": beta,
            "top_k": top_k,
            "grouping": self.grouping,
            "params": selection.params,
            "non_embedding_params": self.non_embedding_params,
            "percent": selection.percent,
            "sensitivity_source": source,
            "modules": [
                {
                    "module": name,
                    "D": by_name[name].D,
                    "G": by_name[name].G,
                    "S": float(scores[name]),
                    "size": by_name[name].params,
                    "members": list(by_name[name].members),
                }
                for name in selection.rows
            ],
            "trainable_modules": list(selection.modules),
        }

    def to_frame(self, beta: float = 1.0, top_k: float | None = DEFAULT_TOP_K) -> pd.DataFrame:
        """module, layer, type, params, D, G, S, selected (selected is all False when top_k is None)."""
        rows = self.rows
        chosen = set(self.select(beta, top_k).rows) if top_k is not None else set()
        frame = pd.DataFrame(
            [{k: getattr(r, k) for k in ("module", "layer", "type", "params", "D", "G")} for r in rows]
        )
        frame["S"] = self.score(beta)
        frame["selected"] = [r.module in chosen for r in rows]
        return frame

    def to_dict(self) -> dict:
        linears = [{k: v for k, v in asdict(r).items() if k != "members"} for r in self.linears]
        return {
            "grouping": self.grouping,
            "non_embedding_params": self.non_embedding_params,
            "meta": self.meta,
            "linears": linears,
        }

    @classmethod
    def from_dict(cls, d: dict) -> SensitivityReport:
        linears = [ModuleStat(**r, members=(r["module"],)) for r in d["linears"]]
        return cls(linears, int(d["non_embedding_params"]), d.get("grouping", "linear"), dict(d.get("meta", {})))


def _group(linears: list[ModuleStat], grouping: str) -> list[ModuleStat]:
    """Aggregate linears into blocks (attention / MLP of a layer) or layers.

    A group's D and G are the parameter-weighted means of its members' D and G, so a big MLP projection counts more
    than a small attention projection; its parameters are the members' sum.
    """
    if grouping == "linear":
        return list(linears)
    groups: dict[tuple, list[ModuleStat]] = {}
    for r in linears:
        key = (r.layer, block_kind(r.type)) if grouping == "block" else (r.layer,)
        groups.setdefault(key, []).append(r)
    rows = []
    for key, members in groups.items():
        layer_name = members[0].module[: -len(members[0].type) - 1]  # "bert.encoder.layer.3"
        weights = np.array([m.params for m in members], dtype=np.float64)
        rows.append(
            ModuleStat(
                module=f"{layer_name}:{key[1]}" if grouping == "block" else layer_name,
                layer=key[0],
                type=key[1] if grouping == "block" else "layer",
                params=int(weights.sum()),
                D=float(np.average([m.D for m in members], weights=weights)),
                G=float(np.average([m.G for m in members], weights=weights)),
                members=tuple(m.module for m in members),
            )
        )
    return rows
