"""benchmarks/compare_table.py: the generated paragraph per task compares AdaPT with the competing methods."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # the benchmark scripts' modules
from compare_table import loaded_note, paragraphs, seedless_note, trains_by_seed  # noqa: E402


def test_the_task_paragraph_compares_adapt_with_competitors_not_with_its_own_ablations():
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
    (text, _) = paragraphs(summary, seconds, measured)
    assert "wins against the best competing method (stc, 0.5800) by 0.0200" in text
    assert "+0.1000 against full finetuning (0.5000 ± 0.0500)" in text and "spread is smaller" in text
    assert "in 30 s (mean over the seeds that did) against 60 s (0.50×)" in text
    assert "Ablations: adapt-random-init 0.7000, full+tokens 0.6500." in text
    ahead = summary.assign(macro_f1_mean=summary["macro_f1_mean"].where(summary["method"] != "stc", 0.62))
    (text, _) = paragraphs(ahead, seconds, measured)
    assert "loses against the best competing method (stc, 0.6200) by 0.0200" in text  # a gap, never "by -0.02"
    one = summary.assign(seeds=1)
    (text, _) = paragraphs(one, seconds, measured)
    assert "AdaPT 0.6000 (1 seed)" in text and "too few seeds to compare spreads" in text
    full_best = summary.assign(macro_f1_mean=summary["macro_f1_mean"].where(summary["method"] != "full", 0.64))
    (text, _) = paragraphs(full_best, seconds, measured)
    assert "loses against the best competing method, full finetuning (0.6400 ± 0.0500), by 0.0400;" in text
    assert "against full finetuning (" not in text  # the same gap is not said twice
    loaded = summary.assign(timing_loaded=summary["method"] == "adapt")
    (text, _) = paragraphs(loaded, seconds, measured)
    assert "(0.50×) †, timed beside other work." in text  # the ratio is shown, and said to be unreliable


def test_the_footnote_names_each_cpu_cell_timed_beside_other_work():
    rows = pd.DataFrame(
        [
            {"task": "t", "method": m, "seed": s, "state": "completed", "hardware": hw, "cpu_load": load}
            for m, s, hw, load in (
                ("adapt", 1, "cpu", 3.36),
                ("prefix", 0, "cpu", 2.86),  # one process beside the grid's two for most of the cell
                ("full", 0, "cpu", 2.1),  # the grid's own load
                ("lora", 0, "cuda", 9.0),
            )
        ]
    )
    (note, _) = loaded_note(rows)
    assert note.startswith("† Timed beside other work") and "t adapt seed 1 (3.36)" in note
    assert "t prefix seed 0 (2.86)" in note
    assert "t full" not in note and "t lora" not in note  # unloaded and GPU cells are not named
    assert loaded_note(rows[~rows["method"].isin(["adapt", "prefix"])]) == []


def test_a_method_no_seed_enters_has_its_spread_footnoted_as_rounding_not_seeds():
    assert not trains_by_seed("stc") and trains_by_seed("adapt") and trains_by_seed("adapt-random-init")
    summary = pd.DataFrame([{"task": "t", "method": m, "seeds": n} for m, n in (("stc", 2), ("adapt", 3), ("full", 1))])
    (note, _) = seedless_note(summary)
    assert note.startswith("‡ No training seed enters stc on a pretrained model") and "not a seed spread" in note
    assert seedless_note(summary.assign(seeds=1)) == []  # one seed shows no ± to explain
