"""benchmarks/compare.py's report (compare_report.py) and figures (compare_figures.py), generated end to end from the
results file; the parts are tested beside their modules (test_compare_table.py, test_compare_convergence.py,
test_compare_sweeps.py, test_compare_estimate.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from adapt_core import grid_results


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
            "device": "cpu (Test CPU, AVX2)" if m == "adapt" else "cpu",  # rows before the processor was named: `cpu`
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
    assert "4 of 5 rows" in table and "Not run (1 cell, `quick` on CPU): t seed 0 (lora). Why: the CPU budget" in table
    assert "`adapt` lr 0.0003, top_k 10, beta 1.0" in table  # the settings come from the spec
    assert "#### Profile `quick` on CPU (Test CPU, AVX2 where a row names it)" in table
    assert (tmp_path / "compare-minilm-l6.png").stat().st_size > 0
    assert (tmp_path / "compare-cost-minilm-l6.png").stat().st_size > 0
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- compare:start -->\nold\n<!-- compare:end -->\nafter\n")
    compare_report.update_readme(readme, table)
    assert "old" not in readme.read_text() and readme.read_text().endswith("after\n") and table in readme.read_text()


def test_cost_figure_says_when_a_task_has_no_full_row(tmp_path):
    """Times are relative to full finetuning: a task without its row gets a panel that says so, not empty axes."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import compare_figures

    part = pd.DataFrame(
        {
            "task": ["a", "a", "b"],
            "method": ["full", "adapt", "adapt"],
            "time_vs_full": [1.0, 0.5, float("nan")],
            "macro_f1_mean": [0.9, 0.88, 0.6],
            "macro_f1_std": [0.01, 0.02, float("nan")],
            "seeds": [3, 3, 1],
        }
    )
    path = tmp_path / "cost.png"
    assert compare_figures.trade_off(part, ["a", "b"], ["full", "adapt"], path) == ["b"]
    assert path.stat().st_size > 0
    assert compare_figures.trade_off(part[part["task"] == "a"], ["a"], ["full", "adapt"], path) == []


def test_accounting_counts_the_plan_as_it_stands_and_sets_stale_rows_apart():
    """Per profile and hardware: cells of the plan done, left with their recorded reason (or none yet), a superseded
    lr-sweep cell another machine measured, and a row at a setting no longer chosen, which is no cell of the plan."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import compare_report
    from helpers_grid import SPEC

    def row(hw, task, method, setting, state, error=""):
        key = ("converge", hw, task, method, setting, "minilm-l6", 0)
        return dict(zip(grid_results.KEY, key, strict=True)) | {"state": state, "error": error, "total_seconds": 1800}

    frame = pd.DataFrame(
        [
            row("cpu", "banking77", "full", "", "completed"),
            row("cpu", "scierc", "stc", "", "failed", "out of memory"),
            row("cpu", "chemprot", "lora", "lr=0.003", "not run", "planned at the old rate"),  # now at lr 1e-3
            row("cuda", "scierc", "lora", "lr=0.01", "not run", "superseded"),
            row("cpu", "scierc", "lora", "lr=0.01", "completed"),  # stands in for the cuda sweep's cell
        ]
    ).reindex(columns=grid_results.COLUMNS)
    lines = compare_report.accounting(frame, SPEC)
    conv, budget = SPEC["profiles"]["converge"], SPEC["sweeps"]["budget"]
    grid = len(conv.get("tasks", SPEC["tasks"])) * len([*SPEC["methods"], *SPEC["variants"]]) * len(SPEC["seeds"])
    extra = sum(len(v) - 1 for varied in budget["methods"].values() for v in varied.values())  # top_k 10, r 8: grid's
    plan = grid + len(budget["tasks"]) * len(budget["seeds"]) * extra
    assert lines[0] == "2 of 5 rows in `benchmarks/results/compare.csv` completed."
    cpu = [line for line in lines if "on CPU" in line]
    assert cpu[0].startswith(f"`converge` on CPU: 1 of {plan} cells of its comparison completed; ")
    assert cpu[0].endswith("ran 1.0 hours (the sum of their wall times).")
    assert "Failed (1 cell, `converge` on CPU): scierc seed 0 (stc). Why: out of memory" in cpu
    assert any(line.startswith(f"Not run ({plan - 2} cells, `converge` on CPU)") for line in cpu)
    assert any(line.endswith("Why: no row yet: the plan resumes where it stopped (`grid_plan.py`)") for line in cpu)
    assert cpu[-1].startswith(
        "No longer cells of the plan (1 row, 0 of them completed, `converge` on CPU): chemprot seed 0 (lora [lr=0.003])"
    )
    assert "Not run (1 cell, `converge` on CUDA): scierc seed 0 (lora [lr=0.01]). Why: superseded; another machine" in (
        " ".join(lines)
    )


def test_figures_colour_a_method_alike_everywhere_and_mark_what_has_not_run(tmp_path):
    """Colours follow the spec's order, not the order rows appear in (a method is one colour in every figure),
    and a planned (task, method) slot without a row is named, not left as a gap that reads as a score of nothing."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import compare_figures

    spec = {"methods": {"full": {}, "lora": {}, "adapt": {}}, "variants": {"adapt-random-init": {}}}
    colors = compare_figures.method_colors(spec)
    assert colors == {"full": "C0", "lora": "C1", "adapt": "C2", "adapt-random-init": "C3"}
    summary = pd.DataFrame(
        {
            "model": ["m"] * 4,
            "task": ["a", "a", "a", "b"],
            "method": ["adapt", "full", "lora", "full"],  # adapt first: its colour must not become C0
            "macro_f1_mean": [0.8, 0.85, 0.7, 0.6],
            "macro_f1_std": [0.01, 0.02, float("nan"), 0.03],
            "seeds": [3, 3, 1, 2],
            "time_vs_full": [0.5, 1.0, 0.7, 1.0],
        }
    )
    missing = compare_figures.figures(summary, tmp_path, {"a": 0.2}, "-t", "test", colors, list(colors))
    assert missing == [("b", "lora"), ("b", "adapt"), ("a", "adapt-random-init"), ("b", "adapt-random-init")]
    assert (tmp_path / "compare-m-t.png").stat().st_size > 0 and (tmp_path / "compare-cost-m-t.png").stat().st_size > 0
