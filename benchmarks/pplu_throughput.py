"""PPLu scoring throughput: candidates per second with the packaged SmolLM2-135M as the scoring LM.

    python benchmarks/pplu_throughput.py          # 256 real candidates mined from banking77, batch sizes 16 and 64
    python benchmarks/pplu_throughput.py --quick  # 32 candidates, batch size 32: checks the script runs

Candidates are real: mined from the banking77 train split with the MiniLM tokenizer (`find_candidates` without
scoring). Scoring runs with the disk cache off, each configuration (batch size × torch threads) `--repeats` times,
configurations alternating, the best kept (the machines are shared: the fastest run is the least disturbed one).
Torch's default thread count and 1 thread are both measured: on a shared, oversubscribed CPU extra threads can
make things slower, not faster. The scorer load and the unigram table are timed apart.
Writes benchmarks/results/perplexity[-quick].json with the machine, versions, date and load average.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
from _env import environment

from adapt_core.candidates import find_candidates
from adapt_core.data import DataConfig, load_dataset
from adapt_core.mining import MiningConfig
from adapt_core.perplexity import PerplexityConfig, load_scorer, score, unigram_logprobs

RESULTS = Path(__file__).parent / "results"


def measure(
    candidates: list[str], corpus: list[str], configs: list[tuple[int, PerplexityConfig]], repeats: int
) -> list[dict]:
    """Best-of-`repeats` wall time of scoring every candidate (cache off) per (threads, config), alternating."""
    times: list[list[float]] = [[] for _ in configs]
    default_threads = torch.get_num_threads()
    for _ in range(repeats):
        for k, (threads, config) in enumerate(configs):
            torch.set_num_threads(threads)
            started = time.perf_counter()
            score(candidates, corpus, config)
            times[k].append(time.perf_counter() - started)
    torch.set_num_threads(default_threads)
    return [
        {
            "threads": threads,
            "batch_size": config.batch_size,
            "candidates": len(candidates),
            "seconds": min(t),
            "candidates_per_s": len(candidates) / min(t),
            "all_seconds": t,
        }
        for (threads, config), t in zip(configs, times, strict=True)
    ]


def table(rows: list[dict], env: dict) -> str:
    lines = [
        "| device | threads | batch size | candidates | seconds | candidates / s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['device']} | {r['threads']} | {r['batch_size']} | {r['candidates']} | {r['seconds']:.1f} | "
        f"{r['candidates_per_s']:.1f} |"
        for r in rows
    ]
    if "gpu" not in env:
        lines.append("| cuda | — | — | — | — | N/A (no GPU on this machine) |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="banking77")
    p.add_argument("--scorer", default="smollm2-135m")
    p.add_argument("--candidates", type=int, default=256)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true", help="32 candidates, one batch size, one repeat")
    args = p.parse_args()
    if args.quick:
        args.candidates, args.batch_sizes, args.repeats = 32, [32], 1
    env = environment() | {"load_average": os.getloadavg()[0]}
    data = load_dataset(args.dataset, DataConfig(max_train=2000))
    corpus = data["train"].texts
    vetted = find_candidates(data, "minilm-l6", MiningConfig(), None)
    candidates = [c.text for c in vetted][: args.candidates]
    base = PerplexityConfig(scorer=args.scorer, device=args.device, use_cache=False)
    started = time.perf_counter()
    scorer = load_scorer(base)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    unigram_logprobs(corpus, scorer.tokenizer)
    unigram_s = time.perf_counter() - started
    device = str(next(scorer.model.parameters()).device)
    configs = [
        (threads, PerplexityConfig(scorer=args.scorer, device=args.device, use_cache=False, batch_size=b))
        for threads in dict.fromkeys([torch.get_num_threads(), 1])
        for b in args.batch_sizes
    ]
    rows = [{"device": device, **row} for row in measure(candidates, corpus, configs, args.repeats)]
    result = {
        "environment": env,
        "scorer": args.scorer,
        "dataset": args.dataset,
        "corpus_texts": len(corpus),
        "mean_pieces": sum(len(scorer.tokenizer(" " + c)["input_ids"]) for c in candidates) / len(candidates),
        "load_seconds": load_s,
        "unigram_seconds": unigram_s,
        "rows": rows,
        "gpu": env.get("gpu", "N/A: no GPU on this machine"),
    }
    print(table(rows, env))
    print(
        f"\nscorer load {load_s:.1f} s, unigram table over {len(corpus)} texts {unigram_s:.2f} s, "
        f"mean {result['mean_pieces']:.1f} pieces per candidate, load average {env['load_average']:.1f}"
    )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("perplexity-quick.json" if args.quick else "perplexity.json")
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
