"""Sparsify-then-Classify's options (`StcConfig`) and the check that a dataset can support its dev-based choices.

Dev-size rule (the choices are only as good as dev): dev needs at least two classes, at least
`MIN_DEV_PER_CLASS` examples per train class on average, and at most half of train's classes may be missing
from it (ChemProt's dev lacks one of 13; that is noted in the report, not refused).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields

from adapt_core.config_base import BaseMethodConfig
from adapt_core.data import TaskData
from adapt_core.errors import AdaptError
from adapt_core.stc_features import POOLINGS, REPRESENTATIONS
from adapt_core.stc_solver import SOLVERS

MIN_DEV_PER_CLASS = 2
METRICS = ("macro_f1", "accuracy")


@dataclass(frozen=True)
class StcConfig(BaseMethodConfig):
    """Sparsify-then-Classify options. Every grid is searched on dev."""

    representations: tuple[str, ...] = field(
        default=REPRESENTATIONS,
        metadata={
            "help": "Which neurons to probe: 'hidden' (block outputs) and/or 'mlp' (MLP activations). Never mixed."
        },
    )
    poolings: tuple[str, ...] = field(
        default=POOLINGS,
        metadata={
            "help": "Pooling over tokens: 'mean', 'max', 'token' (first token for encoders, last real token for "
            "decoders). One pooling for every layer of a head."
        },
    )
    etas: tuple[float, ...] = field(
        default=(0.01, 0.1, 0.3, 0.5, 0.8, 1.0),
        metadata={
            "help": "η grid: per layer keep the fewest neurons covering η of the probe's squared weight (0 < η ≤ 1; "
            "1 keeps every neuron the L1 probe gave a weight, which many-class tasks need)."
        },
    )
    probe_cs: tuple[float, ...] = field(
        default=(0.03, 0.3, 3.0),
        metadata={"help": "C grid of the per-layer L1 probes (scikit-learn's C: smaller = sparser)."},
    )
    head_cs: tuple[float, ...] = field(
        default=(0.03, 0.3, 3.0),
        metadata={
            "help": "C grid of the final L1 head: the grid is screened at the value nearest the probes' median C, and "
            "the best `refine_top` points get every C."
        },
    )
    refine_top: int = field(
        default=3,
        metadata={
            "help": "How many of the best screened (representation, pooling, η, k) heads are refitted over head_cs."
        },
    )
    max_layers: int | None = field(
        default=None, metadata={"help": "Probe only the first N layers (and run only those); empty = all."}
    )
    max_k_candidates: int = field(
        default=12,
        metadata={
            "help": "At most this many values of k (layers used) are tried, evenly spread; all when the model has fewer."
        },
    )
    k_tolerance: float = field(
        default=0.0,
        metadata={
            "help": "Take the smallest k whose dev score is within this of the best (trades a little score for a "
            "faster early exit); 0 = the best."
        },
    )
    metric: str = field(default="macro_f1", metadata={"help": "Dev metric for every choice: macro_f1 or accuracy."})
    solver: str = field(
        default="torch",
        metadata={"help": "L1 logistic regression solver: 'torch' (proximal gradient, CPU/GPU) or 'sklearn' (saga)."},
    )
    max_iter: int = field(
        default=300, metadata={"help": "Iteration cap per fit (torch: FISTA steps; sklearn: epochs)."}
    )
    screen_max_iter: int = field(
        default=100, metadata={"help": "Iteration cap of the heads' screening pass (the refined heads get max_iter)."}
    )
    tol: float = field(
        default=1e-4,
        metadata={
            "help": "Stop a fit when 10 iterations (torch) lower the objective by less than this, relatively; "
            "sklearn: saga's tolerance."
        },
    )
    batch_size: int = field(default=32, metadata={"help": "Texts per forward batch while collecting features."})
    max_length: int = field(default=128, metadata={"help": "Truncate texts to this many tokens."})
    float16_above_mb: float = field(
        default=512.0,
        metadata={"help": "Store features as float16 on disk when they would take more than this many MB in float32."},
    )
    base_run: str | None = field(
        default=None, metadata={"help": "A finetuned run's folder: STC on its model instead of the frozen base model."}
    )
    device: str = field(
        default="auto",
        metadata={"help": "auto (the run's device: CUDA > MPS > CPU unless the run names one), cuda, mps or cpu."},
    )
    keep_features: bool = field(
        default=False, metadata={"help": "Keep the feature cache (run folder's stc_features/) after fitting."}
    )
    timing_examples: int = field(
        default=256,
        metadata={
            "help": "Dev texts used to time inference with early exit against the full model; the saved run is "
            "then timed over the test set too (0 = skip both)."
        },
    )

    def __post_init__(self):
        for name in ("representations", "poolings", "etas", "probe_cs", "head_cs"):  # JSON gives lists
            object.__setattr__(self, name, tuple(getattr(self, name)))
        super().__post_init__()
        for message in _config_problems(self):
            raise AdaptError(message)

    def to_dict(self) -> dict:
        return {f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in fields(self)}


def _config_problems(c: StcConfig) -> list[str]:
    problems = []
    if not c.representations or set(c.representations) - set(REPRESENTATIONS):
        problems.append(f"representations must be a non-empty subset of {REPRESENTATIONS} (got {c.representations})")
    if not c.poolings or set(c.poolings) - set(POOLINGS):
        problems.append(f"poolings must be a non-empty subset of {POOLINGS} (got {c.poolings})")
    if not c.etas or not all(0 < e <= 1 for e in c.etas):
        problems.append(f"etas must be numbers in (0, 1] (got {c.etas}); 0.1 … 0.8 are usual")
    for name in ("probe_cs", "head_cs"):
        if not getattr(c, name) or not all(v > 0 for v in getattr(c, name)):
            problems.append(f"{name} must be positive numbers (got {getattr(c, name)}); e.g. 0.03, 0.3, 3")
    checks = [
        (c.max_layers is None or c.max_layers >= 1, "max_layers must be ≥ 1 or empty"),
        (c.max_k_candidates >= 1, "max_k_candidates must be ≥ 1"),
        (c.refine_top >= 0, "refine_top must be ≥ 0"),
        (c.k_tolerance >= 0, "k_tolerance must be ≥ 0"),
        (c.metric in METRICS, f"metric must be one of {METRICS}"),
        (c.solver in SOLVERS, f"solver must be one of {SOLVERS}"),
        (c.max_iter >= 1, "max_iter must be ≥ 1"),
        (c.screen_max_iter >= 1, "screen_max_iter must be ≥ 1"),
        (c.tol > 0, "tol must be > 0"),
        (c.batch_size >= 1, "batch_size must be ≥ 1"),
        (c.max_length >= 8, "max_length must be ≥ 8"),
        (c.float16_above_mb >= 0, "float16_above_mb must be ≥ 0"),
        (c.timing_examples >= 0, "timing_examples must be ≥ 0"),
    ]
    return problems + [message for ok, message in checks if not ok]


# ----------------------------------------------------------------------------------------------- the method


def check_data(data: TaskData) -> list[str]:
    """Refuse a dev split too small for dev-based choices (AdaptError); return notes on what dev lacks."""
    train_classes = sorted(set(data["train"].labels))
    dev_counts = Counter(data["dev"].labels)
    need = MIN_DEV_PER_CLASS * len(train_classes)
    if len(dev_counts) < 2:
        raise AdaptError(
            f"dev has {len(dev_counts)} class(es): STC chooses its layers, neurons and pooling on dev and needs at "
            "least two classes there. Provide a larger dev split (raise max_eval or dev_fraction)"
        )
    if len(data["dev"]) < need:
        raise AdaptError(
            f"dev has {len(data['dev'])} examples for {len(train_classes)} classes: STC makes its choices on dev and "
            f"needs at least {MIN_DEV_PER_CLASS} per class ({need}). Raise max_eval or dev_fraction"
        )
    missing = [data.label_names[c] for c in train_classes if c not in dev_counts]
    if len(missing) > len(train_classes) / 2:
        raise AdaptError(
            f"dev lacks {len(missing)} of train's {len(train_classes)} classes ({', '.join(missing[:5])}…): choices "
            "made on it would ignore them. Provide a dev split with most classes (stratified)"
        )
    return (
        [f"dev lacks class(es) {', '.join(missing)}: the dev-based choices cannot account for them"] if missing else []
    )


# ------------------------------------------------------------------------------------------------ the run
