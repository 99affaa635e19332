"""The comparison plan's CPU hours (`compare.py --estimate`): every cell of the grid and of its sweeps costed once,
from measured rows where there are some and otherwise from the quick profile's step times scaled to the profile's
steps and padded tokens per batch, so the plan can be sized before it runs and its time left read while it runs.

Kept apart from the report: it answers a different question (what the plan will cost, not what it found) and loads
tokenizers and data to count tokens, which the report never needs.
"""

from __future__ import annotations

from adapt_core.grid_results import cell_id
from adapt_core.grid_spec import cells, profile_sweeps, row_key, sweep_hardware, task_part
from adapt_core.grid_sweeps import knob_ruled_out, knob_scores, sweep_gaps


def estimate(spec: dict, profile: str, frame, swept: dict | None = None) -> str:
    """The plan's CPU hours: every cell of the grid (variants included) and of the sweeps, once each. A cell is
    costed from measured rows of this profile on the CPU (the mean wall time of the same task and method); before
    any was measured, from the `quick` profile's measured step time of the same task and method, scaled to this
    profile's steps (epochs × batches, early stopping ignored: an upper bound) and to the tokens per batch that its
    lengths and batching give (`padded_tokens`), plus 10 % for evaluation and setup. A knob-sweep cell the rule has
    already ruled out (`knob_ruled_out`) is never run, so it costs nothing. Where another machine's lr sweep chooses
    the rates (`lr_sweep_on`), only the cells it lacks run here (`sweep_gaps`). `spec` names the grid's and the
    budget sweep's cells (`trained_spec`), `swept` the lr and knob sweeps' (the rates only, as they ran: `with_rates`;
    default `spec`)."""
    swept = spec if swept is None else swept
    done = frame[(frame["state"] == "completed") & (frame["profile"] == profile) & (frame["hardware"] == "cpu")]
    measured = done.groupby(["task", "method"])["total_seconds"].mean()
    have = {row_key_of(r) for r in done.itertuples(index=False)}
    plan = {"grid": (spec, cells(spec, profile, methods=[*spec["methods"], *spec.get("variants", {})]))}
    for name in profile_sweeps(spec, profile):
        named = swept if name in ("lr", "knobs") else spec
        todo = cells(named, profile, sweep=name)
        if name == "lr" and sweep_hardware(spec, profile, "cpu") != "cpu":  # another machine's sweep: its gaps
            gaps = sweep_gaps(named, profile, frame, "cpu")
            todo = [c for c in todo if cell_id(named, profile, c) in gaps]
            if not todo:
                continue
        plan[f"sweep {name}"] = (named, todo)
    prior = _prior(spec, profile, frame)
    knobs = knob_scores(swept, profile, frame[frame["hardware"] == "cpu"])
    lines = ["| part | cells | to run | CPU hours (all) | CPU hours left |", "|---|---|---|---|---|"]
    seen, totals, guessed = set(), [0.0, 0.0], False
    for part, (named, todo) in plan.items():
        hours, left, n_left, n = 0.0, 0.0, 0, 0
        for cell in todo:
            key = row_key(named, profile, cell)
            if key in seen or (part == "sweep knobs" and knob_ruled_out(named, profile, knobs, cell)):
                continue
            seen.add(key)
            n += 1
            cost = measured.get((cell.task, cell.method))
            if cost is None or cost != cost:
                cost, guessed = prior(cell.task, cell.method), True
            hours += cost / 3600
            if key not in have:
                left, n_left = left + cost / 3600, n_left + 1
        totals = [totals[0] + hours, totals[1] + left]
        lines.append(f"| {part} | {n} | {n_left} | {hours:.1f} | {left:.1f} |")
    lines.append(f"| total | {len(seen)} | | {totals[0]:.1f} | {totals[1]:.1f} |")
    if guessed:
        lines.append("")
        lines.append(
            "Cells not yet measured in this profile are costed from the quick profile's step times, scaled to this "
            "profile's steps and tokens per batch (an upper bound: early stopping is ignored)."
        )
    return "\n".join(lines)


def row_key_of(row) -> tuple:
    return (row.profile, row.hardware, row.task, row.method, row.setting or "", row.model, int(row.seed))


def _prior(spec: dict, profile: str, frame):
    """cost(task, method) in seconds from the quick profile's measured step times (see `estimate`)."""
    import math

    from adapt_core.data import DataConfig, load_dataset
    from adapt_core.models import load_tokenizer

    quick = frame[(frame["state"] == "completed") & (frame["profile"] == "quick") & (frame["hardware"] == "cpu")]
    steps = quick.groupby(["task", "method"])["step_seconds"].mean()
    totals = quick.groupby(["task", "method"])["train_seconds"].mean()  # STC's train_seconds: its whole fit
    cache: dict[str, tuple[float, float]] = {}

    def batch_tokens(task: str) -> tuple[float, float, int]:
        if task not in cache:
            tok = load_tokenizer(spec["models"][0])
            data = load_dataset(task, DataConfig(**task_part(spec, profile, task, "data")))
            lengths = [len(ids) for ids in tok(data["train"].texts)["input_ids"]]
            conf = {**spec.get("train", {}), **task_part(spec, profile, task, "train")}
            quick_len = {**spec.get("train", {}), **spec["profiles"]["quick"].get("train", {})}["max_length"]
            cache[task] = (
                padded_tokens(lengths, quick_len, 32, False),
                padded_tokens(lengths, conf["max_length"], conf["batch_size"], conf.get("group_by_length", False)),
                math.ceil(len(lengths) / conf["batch_size"]) * conf["epochs"],
            )
        return cache[task]

    def per_token(method: str) -> float:
        """Seconds per padded training token of `method` in the quick profile, averaged over its tasks."""
        rates = [
            step / (32 * quick_tokens_of(task))
            for (task, m), step in steps.items()
            if m == method and step == step and task in spec["tasks"]
        ]
        return sum(rates) / len(rates) if rates else float("nan")

    def quick_tokens_of(task: str) -> float:
        return batch_tokens(task)[0] / 32

    def cost(task: str, method: str) -> float:
        if method == "stc":  # outside the training loop: its quick wall time, scaled by the training slice
            stc = totals[[m == "stc" for _, m in totals.index]].mean()
            return float(stc) * task_part(spec, profile, task, "data").get("max_train", 1000) / 1000
        rate = per_token(method)
        if rate != rate:
            rate = per_token("full")
        _, tokens, n_steps = batch_tokens(task)
        return 1.1 * rate * tokens * n_steps

    return cost


def padded_tokens(lengths: list[int], max_length: int, batch_size: int, grouped: bool) -> float:
    """Tokens per batch after dynamic padding (batch size × the longest text in the batch, each cut to max_length),
    averaged over one epoch of the training loop's own batching."""
    import torch

    from adapt_core.train import LengthGroupedBatches

    cut = [min(n, max_length) for n in lengths]
    if grouped:
        batches = list(LengthGroupedBatches(cut, batch_size, seed=0))
    else:
        order = torch.randperm(len(cut), generator=torch.Generator().manual_seed(0)).tolist()
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return sum(len(b) * max(cut[i] for i in b) for b in batches) / len(batches)
