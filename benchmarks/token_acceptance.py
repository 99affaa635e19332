"""New tokens that carry the task: what the automatic acceptance policy accepts on the five tasks, and what it buys.

    OMP_NUM_THREADS=1 python benchmarks/token_acceptance.py                 # token statistics and F1 on all five tasks
    OMP_NUM_THREADS=1 python benchmarks/token_acceptance.py --no-train      # token statistics only
    OMP_NUM_THREADS=1 python benchmarks/token_acceptance.py --tasks scierc  # some tasks (results merge into the JSON)

Per task, on the grid's `cpu` (quick) slice (1,000 stratified training examples, 500 dev / test), with the MiniLM
classifier's tokenizer and the SmolLM2 PPLu scorer (scores cached on disk):
- every candidate is mined and scored once; then several acceptance rules decide on the same scored list:
  `policy` (the default `TokenPolicy`), the policy with the PPLu filter keeping low values or off (the
  measurement behind the `pplu_keep` default), and `pplu-top` (what the grid accepted before the policy: every
  candidate, lowest PPLu first, up to the cap);
- per rule: accepted tokens; the share whose specificity (class purity above chance) is at or above the policy's
  floor `min_specificity`; mean mutual information with the label; the share that fire in the test texts once added;
  mean tokens per test example before / after (MiniLM, no special tokens);
- the dev macro-F1 of AdaPT with the policy's tokens against AdaPT without tokens at the grid's cpu budget (3 epochs
  = 96 steps, batch 32, max_length 64, lr 3e-4, top_k 10 %, seed 0), trained with `pipeline.run_training`;
- ten accepted and ten rejected candidates with the policy's reasons.
Writes benchmarks/results/tokens.json (with the machine, versions and date) and prints the README's tables.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from _env import environment

from adapt_core.candidate_stats import fire_counts
from adapt_core.candidates import find_candidates, mine_candidates
from adapt_core.data import DataConfig, load_dataset
from adapt_core.mining import MiningConfig
from adapt_core.models import load_tokenizer
from adapt_core.perplexity import PerplexityConfig
from adapt_core.token_policy import TokenPolicy, decide_by_policy
from adapt_core.tokens import augmented_tokenizer

RESULTS = Path(__file__).parent / "results"
TASKS = ("banking77", "scierc", "chemprot", "acl_arc", "scicite")
MODEL, SCORER = "minilm-l6", "smollm2-135m"
SLICE = {"max_train": 1000, "max_eval": 500}  # the grid's cpu profile (benchmarks/grid.json)
RULES = {
    "policy": TokenPolicy(),
    "policy, PPLu keeps low": TokenPolicy(pplu_keep="low"),
    "policy, PPLu off": TokenPolicy(pplu_keep="off"),
}


def train_f1(task: str, tokens: str | None, run_dir: Path) -> dict:
    """Dev macro-F1 of one AdaPT run at the grid's cpu budget: with `tokens` (a vetted list) or without tokens.

    The one place that builds run configs (the config classes may change; keep this small)."""
    from adapt_core.pipeline import RunConfig, run_training
    from adapt_core.train import TrainConfig

    train = TrainConfig(
        epochs=3, batch_size=32, lr=3e-4, max_length=64, warmup_ratio=0.06, weight_decay=0.01, seed=0, device="cpu"
    )
    method = "adapt" if tokens else "adapt-no-tokens"  # their defaults: top_k 10, beta 1.0, random token init
    config = RunConfig(dataset=task, model=MODEL, data=DataConfig(**SLICE), method=method, train=train, tokens=tokens)
    started = time.perf_counter()
    report = run_training(config, run_dir, progress=False)
    return {
        "dev_macro_f1": report["dev"]["macro_f1"],
        "test_macro_f1": report["test"]["macro_f1"],
        "tokens_added": report.get("tokens", {}).get("added", 0),
        "seconds": time.perf_counter() - started,
    }


def rule_stats(vetted, data, tokenizer, floor: float) -> dict:
    """What an acceptance rule's accepted tokens are: count, specificity, MI, firing in test, sequence shortening."""
    accepted = [c for c in vetted if c.decision == "accepted"]
    texts = [c.text for c in accepted]
    test = list(data["test"].texts)
    base = tokenizer(test, add_special_tokens=False)["input_ids"]
    out = {"accepted": len(accepted), "tokens_before": float(np.mean([len(s) for s in base]))}
    if not accepted:
        return out | {"share_specific": None, "share_firing_test": None, "mean_mi": None, "tokens_after": None}
    after = augmented_tokenizer(tokenizer, texts)
    fires = fire_counts(after, test, texts, tokenizer)
    spec = [_specificity(c, data) for c in accepted]
    return out | {
        "share_specific": float(np.mean([s >= floor for s in spec])),
        "mean_mi": float(np.mean([c.mutual_info or 0.0 for c in accepted])),
        "share_firing_test": float(np.mean([fires[t][0] > 0 for t in texts])),
        "tokens_after": float(np.mean([len(s) for s in after(test, add_special_tokens=False)["input_ids"]])),
    }


def _specificity(c, data) -> float:
    """(purity − prior of the top class) / (1 − that prior), as the policy computes it."""
    labels = np.asarray(data["train"].labels)
    prior = np.bincount(labels, minlength=data.num_labels) / len(labels)
    top = int(np.argmax(c.class_support))
    purity = c.class_support[top] / max(c.support, 1)
    return float(np.clip((purity - prior[top]) / max(1 - prior[top], 1e-12), 0, 1))


def examples(vetted, decision: str, n: int = 10) -> list[dict]:
    """`n` candidates with this decision, spread over the list (accepted: best ranked first)."""
    rows = [c for c in vetted if c.decision == decision]
    if decision == "accepted":
        rows.sort(key=lambda c: -(c.mutual_info or 0))
    else:
        rows = [rows[i] for i in np.linspace(0, len(rows) - 1, min(n, len(rows))).astype(int)] if rows else []
    return [{"text": c.text, "support": c.support, "pplu": c.pplu, "reason": c.reason} for c in rows[:n]]


def one_task(task: str, train: bool, out_dir: Path) -> dict:
    started = time.perf_counter()
    data = load_dataset(task, DataConfig(**SLICE))
    tokenizer = load_tokenizer(MODEL)
    scoring = PerplexityConfig(scorer=SCORER, max_new_share=1.0)
    scored, min_count = mine_candidates(data, MODEL, MiningConfig(), scoring, tokenizer=tokenizer)
    floor = RULES["policy"].min_specificity
    result = {"candidates": len(scored), "min_support": min_count, "rules": {}}
    decided = {}
    for name, policy in RULES.items():
        decided[name] = decide_by_policy(scored, data["train"], tokenizer, policy, data.num_labels)
        result["rules"][name] = rule_stats(decided[name], data, tokenizer, floor)
    old = find_candidates(data, MODEL, MiningConfig(), PerplexityConfig(scorer=SCORER), tokenizer=tokenizer)
    old.decide_where("accepted")
    result["rules"]["pplu-top (before)"] = rule_stats(old, data, tokenizer, floor)
    policy_list = decided["policy"]
    pplu = np.array([c.pplu if c.pplu is not None else np.nan for c in scored])
    spec = np.array([_specificity(c, data) for c in scored])
    ok = ~np.isnan(pplu)
    result["pplu_specificity_spearman"] = float(_spearman(pplu[ok], spec[ok]))
    result["pplu_deciles"] = _deciles(scored, pplu, spec)
    result["accepted_examples"] = examples(policy_list, "accepted")
    result["rejected_examples"] = examples(policy_list, "rejected")
    result["reasons"] = _reason_counts(policy_list)
    result["stats_seconds"] = time.perf_counter() - started
    if train:
        path = policy_list.save(out_dir / f"{task}-tokens.json")
        result["f1"] = {
            "adapt": train_f1(task, str(path), out_dir / f"{task}-adapt"),
            "adapt-no-tokens": train_f1(task, None, out_dir / f"{task}-adapt-no-tokens"),
        }
    return result


def _deciles(scored, pplu: np.ndarray, spec: np.ndarray) -> dict:
    """The lowest and highest PPLu tenth of the scored candidates: ten texts each and their mean specificity."""
    ok = np.flatnonzero(~np.isnan(pplu))
    order = ok[np.argsort(pplu[ok], kind="stable")]
    tenth = max(1, len(order) // 10)
    out = {}
    for name, part in (("lowest", order[:tenth]), ("highest", order[::-1][:tenth])):
        out[name] = {
            "examples": [scored.candidates[i].text for i in part[:10]],
            "mean_specificity": float(spec[part].mean()),
            "mean_support": float(np.mean([scored.candidates[i].support for i in part])),
        }
    return out


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1]) if len(a) > 2 else float("nan")


def _reason_counts(vetted) -> dict:
    """How many candidates each rule decided (the reason's first words)."""
    counts: dict[str, int] = {}
    for c in vetted:
        key = "accepted" if c.decision == "accepted" else (c.reason or "").split(":")[0].split(" (")[0]
        key = "merged" if key.startswith("merged into") else key
        counts[key] = counts.get(key, 0) + 1
    return counts


def tables(results: dict) -> str:
    """The README's markdown tables."""

    def pct(v):
        return "—" if v is None else f"{100 * v:.0f} %"

    lines = [
        "| task | rule | accepted | ≥ specificity floor | fire in test | mean MI (nats) | tokens / test example |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for task, r in results["tasks"].items():
        for name, s in r["rules"].items():
            after = "—" if s["tokens_after"] is None else f"{s['tokens_before']:.1f} → {s['tokens_after']:.1f}"
            mi = "—" if s["mean_mi"] is None else f"{s['mean_mi']:.4f}"
            lines.append(
                f"| {task} | {name} | {s['accepted']} | {pct(s['share_specific'])} | {pct(s['share_firing_test'])} "
                f"| {mi} | {after} |"
            )
    lines += [
        "",
        "| task | AdaPT + policy tokens (dev macro-F1) | AdaPT, no tokens | tokens added |",
        "|---|---:|---:|---:|",
    ]
    for task, r in results["tasks"].items():
        if "f1" in r:
            f = r["f1"]
            lines.append(
                f"| {task} | {f['adapt']['dev_macro_f1']:.3f} | {f['adapt-no-tokens']['dev_macro_f1']:.3f} "
                f"| {f['adapt']['tokens_added']} |"
            )
    return "\n".join(lines)


def example_tables(results: dict) -> str:
    """Ten accepted and ten rejected candidates per task with the policy's reasons (markdown)."""
    lines = []
    for task, r in results["tasks"].items():
        lines += [f"**{task}**", "", "| decision | candidate | support | reason |", "|---|---|---:|---|"]
        for decision in ("accepted", "rejected"):
            for e in r[f"{decision}_examples"]:
                reason = e["reason"].replace("|", "/")
                lines.append(f"| {decision} | `{e['text']}` | {e['support']} | {reason} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--no-train", action="store_true", help="Token statistics only (no F1 runs).")
    args = parser.parse_args()
    path = RESULTS / "tokens.json"
    results = json.loads(path.read_text()) if path.exists() else {"tasks": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks:
            print(f"== {task}", flush=True)
            previous = results["tasks"].get(task, {})
            results["tasks"][task] = one_task(task, not args.no_train, Path(tmp))
            if args.no_train and "f1" in previous:
                results["tasks"][task]["f1"] = previous["f1"]
            results["environment"] = environment()
            results["policy"] = {k: getattr(TokenPolicy(), k) for k in TokenPolicy.__dataclass_fields__}
            path.write_text(json.dumps(results, indent=1, ensure_ascii=False))
            print(json.dumps({k: v for k, v in results["tasks"][task].items() if "examples" not in k}, indent=1))
    print(tables(results))
    print(example_tables(results))


if __name__ == "__main__":
    main()
