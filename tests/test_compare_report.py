"""benchmarks/compare.py's report (compare_report.py) and figures (compare_figures.py), generated from the results
file: the tables, the paragraphs, the plateau lines."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from helpers_grid import SPEC

from adapt_core import grid_results, grid_spec


def test_compare_report_is_generated_from_the_csv(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import compare
    import compare_report

    rows = [
        {
            "task": "t",
            "model": "minilm-l6",
            "method": m,
            "seed": s,
            "macro_f1": f + 0.01 * s,
            "state": "completed",
            "train_seconds": t,
            "step_seconds": t / 10,
            "peak_memory_bytes": 100.0,
            "optimizer_state_bytes": t,
            "trainable_params": 10,
            "profile": "quick",
            "attempts": 1,
        }
        for m, f, t in (("full", 0.5, 10.0), ("adapt", 0.6, 5.0))
        for s in (0, 1)
    ]
    rows.append(
        {
            "task": "t",
            "model": "minilm-l6",
            "method": "lora",
            "seed": 0,
            "state": "not run",
            "error": "the CPU budget",
            "attempts": 0,
            "profile": "quick",
        }
    )
    results = tmp_path / "compare.csv"
    pd.DataFrame(rows).reindex(columns=grid_results.COLUMNS).to_csv(results, index=False)
    assert compare.main(["--report-only", "--no-readme", "--results", str(results)]) == 0
    table = (tmp_path / "compare_summary.md").read_text()
    assert "| t | adapt **(best)** | 0.6050 ± 0.0071 | 2 | — | 0.50 |" in table
    assert "| t | full | 0.5050 ± 0.0071 | 2 | — | 1.00 |" in table
    assert (
        "4 of 5 cells" in table and "Not run (1 cells, `quick` on CPU): t seed 0 (lora). Why: the CPU budget" in table
    )
    assert "`adapt` lr 0.0003, top_k 10, beta 1.0" in table  # the settings come from the spec
    assert (tmp_path / "compare-minilm-l6.png").stat().st_size > 0
    assert (tmp_path / "compare-cost-minilm-l6.png").stat().st_size > 0
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- compare:start -->\nold\n<!-- compare:end -->\nafter\n")
    compare_report.update_readme(readme, table)
    assert "old" not in readme.read_text() and readme.read_text().endswith("after\n") and table in readme.read_text()


def test_padded_tokens_follow_the_training_loops_batching():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import compare_report

    # cut to 4: [3, 4, 4, 2]; grouped into [4, 4] and [3, 2]: 2 × 4 and 2 × 3 tokens per batch
    assert compare_report.padded_tokens([3, 5, 9, 2], max_length=4, batch_size=2, grouped=True) == 7
    lengths = [(13 * i) % 60 + 5 for i in range(640)]
    grouped = compare_report.padded_tokens(lengths, 128, 32, True)
    plain = compare_report.padded_tokens(lengths, 128, 32, False)
    assert sum(lengths) / 20 <= grouped < plain  # never below the real tokens; grouping pads less


def test_the_task_paragraph_compares_adapt_with_competitors_not_with_its_own_ablations():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import compare_report

    rows = [  # method, mean, std, seeds
        ("adapt", 0.60, 0.01, 3),
        ("adapt-random-init", 0.70, 0.01, 3),  # better, but AdaPT itself: not "the best competing method"
        ("full+tokens", 0.65, 0.02, 3),
        ("full", 0.50, 0.05, 3),
        ("lora", 0.55, 0.02, 3),
        ("stc", 0.58, 0.0, 1),
    ]
    summary = pd.DataFrame(
        [{"task": "t", "method": m, "macro_f1_mean": a, "macro_f1_std": s, "seeds": n} for m, a, s, n in rows]
    )
    seconds, measured = {("t", "adapt"): 30.0, ("t", "full"): 60.0}, {("t", "adapt"): 3, ("t", "full"): 3}
    (text, _) = compare_report.paragraphs(summary, seconds, measured)
    assert "wins against the best competing method (stc, 0.5800) by +0.0200" in text
    assert "+0.1000 against full finetuning (0.5000 ± 0.0500)" in text and "spread is smaller" in text
    assert "in 30 s (mean over the seeds that did) against 60 s (0.50×)" in text
    assert "Ablations: adapt-random-init 0.7000, full+tokens 0.6500." in text
    one = summary.assign(seeds=1)
    (text, _) = compare_report.paragraphs(one, seconds, measured)
    assert "AdaPT 0.6000 (1 seed)" in text and "too few seeds to compare spreads" in text


def test_a_dev_curve_has_plateaued_when_early_stopping_ended_it_or_its_last_two_scores_agree():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from compare_report import plateaued

    assert plateaued([[1, 0.5], [2, 0.7], [3, 0.69]], epochs=16)  # stopped early: dev had stopped improving
    assert plateaued([[t, 0.8 + 0.001 * t] for t in range(16)], epochs=16)  # ran to the end, last two within 0.01
    assert not plateaued([[t, 0.05 * t] for t in range(16)], epochs=16)  # still rising by 0.05 at the end
    assert not plateaued([[1, 0.5]], epochs=16)  # one evaluation says nothing


def test_the_plateau_lines_say_where_full_finetuning_and_adapt_still_rose():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from compare_report import plateau_line

    rising, flat = [[t, 0.05 * t] for t in range(16)], [[1, 0.5], [2, 0.7], [3, 0.69]]
    rows = [
        dict(
            zip(
                grid_results.KEY,
                grid_spec.row_key(SPEC, "converge", grid_spec.Cell(task, method, "minilm-l6", 0)),
                strict=True,
            )
        )
        | {"state": "completed", "dev_curve": json.dumps(curve)}
        for task, method, curve in (
            ("banking77", "full", flat),
            ("scierc", "full", flat),
            ("banking77", "adapt", flat),
            ("scierc", "adapt", rising),
        )
    ]
    full, adapt = (line for line in plateau_line(SPEC, "converge", pd.DataFrame(rows)) if line)
    assert full.startswith("End-to-end finetuning's") and "**converged on every task measured**" in full
    assert "scierc 0 of 1 seeds (16 of 16 evaluations)" in adapt and "not its ceiling" in adapt
    assert plateau_line(SPEC, "quick", pd.DataFrame(rows)) == []  # a fixed step budget claims no convergence
