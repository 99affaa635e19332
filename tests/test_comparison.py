"""comparison.py's budget frontier: the budget setting read from a run's config, the grid CSV read as points (with and
without a `setting` column, refused without its columns), runs and grid aggregated by the one `mean_over_seeds`."""

from __future__ import annotations

import pandas as pd
import pytest

from adapt_core.comparison import budget_setting, frontier, read_grid, run_points
from adapt_core.errors import AdaptError

GRID_HEADER = "task,method,model,seed,macro_f1,trainable_params,step_seconds,state"


@pytest.mark.parametrize(
    "settings, expected",
    [
        ({"top_k": 5.0, "beta": 1.0}, "top_k=5"),
        ({"top_k": 2.5}, "top_k=2.5"),
        ({"lora_r": 32, "lora_alpha": 16.0}, "lora_r=32"),
        ({"prefix_len": 20}, "prefix_len=20"),
        ({"top_k": 5.0, "layers": 2}, "layers=2"),  # a layer count replaces layer selection's top-k
        ({"top_k": 5.0, "layers": None}, "top_k=5"),
        ({"lr": 1e-4}, ""),
        (None, ""),
    ],
)
def test_budget_setting(settings, expected):
    assert budget_setting(settings) == expected


def test_grid_points_with_a_setting_column_aggregate_over_seeds(tmp_path):
    path = tmp_path / "compare.csv"
    path.write_text(
        GRID_HEADER
        + ",setting\n"
        + "bank,adapt,m,0,0.50,1000,0.2,completed,top_k=5\n"
        + "bank,adapt,m,1,0.60,1000,0.4,completed,top_k=5\n"
        + "bank,adapt,m,0,0.70,4000,0.5,completed,top_k=20\n"
        + "bank,adapt,m,1,0.10,4000,0.5,failed,top_k=20\n"  # not completed: left out
        + "bank,full,m,0,0.80,90000,1.0,completed,\n"
    )
    agg = frontier(read_grid(path)).set_index(["method", "setting"])
    assert set(agg["source"]) == {"grid"} and set(agg["dataset"]) == {"bank"}
    five = agg.loc[("adapt", "top_k=5")]
    assert five["seeds"] == 2 and five["macro_f1_mean"] == pytest.approx(0.55)
    assert five["macro_f1_std"] == pytest.approx(0.0707107, abs=1e-6) and five["step_seconds"] == pytest.approx(0.3)
    assert agg.loc[("adapt", "top_k=20"), "seeds"] == 1 and agg.loc[("full", ""), "trainable_params"] == 90000


def test_grid_without_setting_column_or_file(tmp_path):
    path = tmp_path / "compare.csv"
    path.write_text(GRID_HEADER + ",micro_f1\nbank,lora,m,0,0.4,100,0.1,completed,0.5\n")
    points = read_grid(path)
    assert points.loc[0, "setting"] == "" and points.loc[0, "dataset"] == "bank"
    assert read_grid(tmp_path / "absent.csv").empty and frontier(read_grid(tmp_path / "absent.csv")).empty


def test_grid_points_of_two_profiles_or_hardwares_are_never_averaged(tmp_path):
    path = tmp_path / "compare.csv"
    path.write_text(
        GRID_HEADER
        + ",profile,hardware\n"
        + "bank,full,m,0,0.40,100,0.1,completed,quick,cpu\n"
        + "bank,full,m,0,0.90,100,0.1,completed,converge,cpu\n"
        + "bank,full,m,0,0.88,100,0.02,completed,converge,cuda\n"
    )
    agg = frontier(read_grid(path)).set_index("source")
    assert sorted(agg.index) == ["grid converge cpu", "grid converge cuda", "grid quick cpu"]
    assert agg.loc["grid quick cpu", "macro_f1_mean"] == pytest.approx(0.40) and set(agg["seeds"]) == {1}


def test_a_grid_step_time_measured_beside_other_work_marks_its_point_and_a_run_never_is(tmp_path):
    path = tmp_path / "compare.csv"
    path.write_text(
        GRID_HEADER
        + ",setting,hardware,cpu_load\n"
        + "bank,adapt,m,0,0.50,1000,0.2,completed,top_k=5,cpu,2.1\n"
        + "bank,adapt,m,1,0.60,1000,0.9,completed,top_k=5,cpu,4.5\n"  # one loaded seed marks the mean
        + "bank,adapt,m,0,0.70,4000,0.5,completed,top_k=20,cpu,2.0\n"
        + "bank,lora,m,0,0.70,4000,0.5,failed,lora_r=8,cpu,9.0\n"  # not completed: neither a point nor a mark
        + "bank,full,m,0,0.80,90000,0.1,completed,,cuda,9.0\n"  # a GPU's step time is not shared with the CPU load
    )
    runs = pd.DataFrame({"dataset": ["bank"], "model": ["m"], "method": ["full"], "seed": [0], "macro_f1": [0.8]})
    runs = runs.assign(trainable_params=90000, step_seconds=1.0, state="completed", source="runs", setting="")
    agg = frontier(pd.concat([read_grid(path), runs])).set_index(["source", "method", "setting"])["timed_loaded"]
    assert agg.to_dict() == {
        ("grid cpu", "adapt", "top_k=5"): True,
        ("grid cpu", "adapt", "top_k=20"): False,
        ("grid cuda", "full", ""): False,
        ("runs", "full", ""): False,
    }


def test_a_method_no_training_seed_enters_is_marked_on_the_frontier():
    points = pd.DataFrame(
        {"source": "runs", "dataset": "bank", "model": "m", "method": ["stc", "stc", "adapt"], "seed": [0, 1, 0]}
    )
    points = points.assign(
        macro_f1=[0.5, 0.52, 0.6], trainable_params=1000, step_seconds=None, setting="", state="completed"
    )
    agg = frontier(points).set_index("method")
    assert agg.loc["stc", "seeds_repeat"] and not agg.loc["adapt", "seeds_repeat"]


def test_a_grid_csv_without_its_columns_is_refused(tmp_path):
    path = tmp_path / "compare.csv"
    path.write_text("task,method\nbank,full\n")
    with pytest.raises(AdaptError, match="lacks the column.*macro_f1"):
        read_grid(path)


def test_run_points_take_the_budget_from_each_config():
    table = pd.DataFrame(
        {
            "run": ["r1", "r2", "r3"],
            "state": ["completed"] * 3,
            "dataset": ["toy"] * 3,
            "model": ["tiny-bert"] * 3,
            "method": ["lora", "lora", "lora"],
            "seed": [0, 1, 0],
            "test_macro_f1": [0.4, 0.6, 0.9],
            "trainable_params": [100, 100, 400],
            "step_seconds": [None, None, 0.5],  # runs that did not record a step time
        }
    )
    configs = [{"settings": {"lora_r": 8}}, {"settings": {"lora_r": 8}}, {"settings": {"lora_r": 32}}]
    agg = frontier(run_points(table, configs)).set_index("setting")
    assert list(agg.index) == ["lora_r=32", "lora_r=8"] and set(agg["source"]) == {"runs"}
    assert agg.loc["lora_r=8", "macro_f1_mean"] == pytest.approx(0.5) and agg.loc["lora_r=8", "seeds"] == 2
    assert pd.isna(agg.loc["lora_r=8", "step_seconds"]) and agg.loc["lora_r=32", "step_seconds"] == 0.5


def test_the_best_method_is_named_only_among_two_or_more():
    from adapt_core.comparison import winners

    agg = pd.DataFrame(
        {"task": ["a", "a", "b"], "method": ["full", "adapt", "adapt"], "macro_f1_mean": [0.5, 0.6, 0.4]},
        index=[7, 8, 9],  # any index: the flags line up with the rows
    )
    assert winners(agg, ["task"]).tolist() == [False, True, False]  # b has one method: no winner there
