"""Demo mode for teaching: the whole AdaPT pipeline on a small slice of the default dataset, one stage at a time.

Stages: load a slice → mine candidates → score them (PPLu) → accept tokens by the automatic policy → measure the
sensitivity of every module with those tokens added → train AdaPT and full finetuning side by side (both at once,
one core each).
Every stage is the library's own function (`token_policy.auto_vet`, `sensitivity.measure`, `launcher.launch` and so
`pipeline.run_training`); nothing here trains or scores by itself. The AdaPT run is handed the accepted tokens and
the measurement the demo showed (as the Train page does), so what the demo shows is what trains; both runs are
ordinary run folders (tagged `demo`) that the Train and Compare pages list.

`start()` runs the stages in a background process (`python -m adapt_core.demo FOLDER`, a new session, like the
launcher's children) that writes `progress.json` in its folder under `<runs root>/.studio/demo/` atomically after
every change; `read()` is what a page polls. A demo whose process is gone reads as `interrupted`.

The default slice, model and step counts (`DEFAULT`) are sized for 3 minutes on an idle 2-core CPU with MiniLM from
the per-step costs measured by benchmarks/training.py; benchmarks/demo_time.py times the whole demo (the README says
what it measured, and under which load). `$ADAPT_DEMO` may hold a JSON object of DemoConfig fields to change them
(tests use tiny-bert; a slower machine may want a smaller slice).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from adapt_core.data import DEFAULT_DATASET, DataConfig
from adapt_core.errors import AdaptError
from adapt_core.fileio import atomic_write_json, read_json
from adapt_core.run_status import is_alive, process_start

STAGES = {  # name → what the stage does, in order
    "data": "Load a slice of the dataset",
    "mine": "Mine frequent word sequences",
    "score": "Score them by PPLu",
    "vet": "Accept tokens by the policy",
    "sensitivity": "Measure module sensitivity",
    "adapt": "Train AdaPT",
    "full": "Train full finetuning",
}
METHODS = ("adapt", "full")
PROGRESS = "progress.json"
DEMO_TAG = "demo"


@dataclass(frozen=True)
class DemoConfig:
    """What the demo runs: the slice, the model, the step counts and AdaPT's budget."""

    dataset: str = field(default=DEFAULT_DATASET, metadata={"help": "The dataset the demo slices."})
    model: str = field(default="minilm-l6", metadata={"help": "The classifier both runs adapt."})
    max_train: int = field(default=500, metadata={"help": "Training texts in the slice (stratified)."})
    max_eval: int = field(default=100, metadata={"help": "Dev and test texts in the slice, each."})
    max_steps: int = field(default=60, metadata={"help": "Optimizer steps of each run."})
    batch_size: int = field(default=16, metadata={"help": "Examples per step."})
    eval_every: int = field(default=15, metadata={"help": "Dev evaluation every N steps (the live F1)."})
    max_length: int = field(default=64, metadata={"help": "Truncate texts to this many tokens."})
    calibration_size: int = field(default=128, metadata={"help": "Training texts for the sensitivity pass."})
    scorer: str | None = field(default="smollm2-135m", metadata={"help": "PPLu scoring LM; empty = no PPLu."})
    top_k: float = field(default=10.0, metadata={"help": "AdaPT's budget: % of the non-embedding parameters."})
    beta: float = field(default=1.0, metadata={"help": "AdaPT's score weight: S = norm(D) + beta * norm(G)."})
    seed: int = field(default=0, metadata={"help": "Seed of the slice, the new weights and the data order."})
    device: str = field(default="auto", metadata={"help": "Where the runs train: auto, cpu, cuda or mps."})

    @classmethod
    def from_env(cls) -> DemoConfig:
        """DEFAULT, with the fields of `$ADAPT_DEMO` (a JSON object) over it."""
        raw = os.environ.get("ADAPT_DEMO", "").strip()
        if not raw:
            return DEFAULT
        try:
            values = json.loads(raw)
            known = {f.name for f in fields(cls)}
            return replace(DEFAULT, **{k: v for k, v in values.items() if k in known})
        except (ValueError, AttributeError, TypeError) as err:
            raise AdaptError(f"$ADAPT_DEMO is not a JSON object of demo settings ({err}): fix or unset it") from err

    def data(self) -> DataConfig:
        return DataConfig(max_train=self.max_train, max_eval=self.max_eval, seed=self.seed)


DEFAULT = DemoConfig()


# ----------------------------------------------------------------------------------------------------- reading


def demo_root(root: Path | str | None = None) -> Path:
    from adapt_core.workspace import studio_dir

    return studio_dir(root) / "demo"


def latest(root: Path | str | None = None) -> Path | None:
    """The most recent demo folder, or None."""
    folder = demo_root(root)
    demos = sorted(d for d in folder.iterdir() if (d / PROGRESS).is_file()) if folder.is_dir() else []
    return demos[-1] if demos else None


CANCEL = "cancel"  # a file beside progress.json: the demo was asked to stop (the child owns progress.json)


def read(folder: Path | str) -> dict:
    """A demo's progress: config, state (running | completed | failed | cancelled | interrupted), stages, runs,
    elapsed."""
    progress = read_json(Path(folder) / PROGRESS)
    if progress.get("state") == "running" and not is_alive(progress):
        progress["state"] = "cancelled" if (Path(folder) / CANCEL).exists() else "interrupted"
    return progress


def cancel(folder: Path | str) -> str:
    """Stop a running demo: its training runs are cancelled as the Train page cancels a run (they stay, marked
    cancelled), then the demo's process gets SIGTERM and records `cancelled`. Returns the demo's state after the
    call; a demo that is not running is left as it is."""
    import signal

    from adapt_core import launcher

    folder = Path(folder)
    progress = read(folder)
    if progress.get("state") != "running":
        return progress.get("state", "unknown")
    (folder / CANCEL).touch()  # first: a process that dies of the signal before it writes still reads cancelled
    for run_dir in progress.get("runs", {}).values():
        launcher.cancel(run_dir)
    with contextlib.suppress(OSError, KeyError, ValueError):  # gone already: it reads cancelled
        os.killpg(int(progress["pid"]), signal.SIGTERM)  # its own session: the demo and nothing else
    return "cancelled"


class Cancelled(BaseException):
    """SIGTERM in the demo's process (`cancel`): not a failure, so not an Exception."""


def is_running(root: Path | str | None = None) -> bool:
    folder = latest(root)
    return folder is not None and read(folder).get("state") == "running"


def start(config: DemoConfig | None = None, root: Path | str | None = None) -> Path:
    """Start the demo in a background process; returns its folder. Refused while another demo runs."""
    from adapt_core.run_writer import runs_root

    config = config or DemoConfig.from_env()
    root = Path(root or runs_root()).resolve()
    if is_running(root):
        raise AdaptError("a demo is running already: wait for it to finish (its stages show below)")
    folder = demo_root(root) / time.strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=False)
    atomic_write_json(folder / PROGRESS, {"config": asdict(config), "state": "running", "stages": {}, "runs": {}})
    with open(folder / "demo.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "adapt_core.demo", str(folder)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives the page's script run, like the launcher's children
            env={**os.environ, "ADAPT_RUNS_DIR": str(root), "PYTHONUNBUFFERED": "1"},
        )
    # recorded here too, so a reader never sees a running demo without a process (the child writes the same)
    Progress(folder).update(pid=proc.pid, pid_start=process_start(proc.pid))
    return folder


# ----------------------------------------------------------------------------------------------------- running


class Progress:
    """progress.json of one demo, rewritten atomically on every change."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.data = read_json(self.folder / PROGRESS)
        self.data.setdefault("stages", {})
        self.data.setdefault("runs", {})
        self.started = time.time()

    def update(self, **fields) -> None:
        self.data.update(fields, elapsed=time.time() - self.data.setdefault("started", self.started))
        atomic_write_json(self.folder / PROGRESS, self.data)

    def stage(self, name: str, state: str, detail: str | None = None) -> None:
        entry = self.data["stages"].setdefault(name, {"began": time.time()})
        entry.update(state=state, **({"detail": detail} if detail is not None else {}))
        if state != "running":
            entry["seconds"] = time.time() - entry["began"]
        self.update()


def run_demo(folder: Path | str) -> None:
    """The stages, in this process (the child `start` launched); progress.json tells a reader where it is."""
    folder = Path(folder)
    progress = Progress(folder)
    progress.update(pid=os.getpid(), pid_start=process_start(os.getpid()), state="running")
    config = DemoConfig(**progress.data["config"])
    current = ["data"]
    import signal

    def stop(*_):
        raise Cancelled()

    signal.signal(signal.SIGTERM, stop)
    try:
        task = _load(config, progress)
        current[0] = "mine"
        vetted_file = _tokens(task, config, progress, current)
        current[0] = "sensitivity"
        report_file = _sensitivity(task, config, vetted_file, progress)
        current[0] = "adapt"
        _train(config, vetted_file, report_file, progress, current)
    except Cancelled:
        progress.stage(current[0], "cancelled", "cancelled from the Home page")
        progress.update(state="cancelled")
        return
    except BaseException as err:  # a failure (or Ctrl-C) ends the demo with the stage and the reason
        progress.stage(current[0], "failed", f"{type(err).__name__}: {err}" if str(err) else type(err).__name__)
        progress.update(state="failed", error=str(err) or type(err).__name__, traceback=traceback.format_exc())
        raise
    progress.update(state="completed")


def _load(config: DemoConfig, progress: Progress):
    from adapt_core.data import load_dataset

    progress.stage("data", "running")
    task = load_dataset(config.dataset, config.data())
    sizes = " / ".join(f"{len(task[s])} {s}" for s in ("train", "dev", "test"))
    progress.stage("data", "done", f"{config.dataset}: {sizes} texts, {task.num_labels} classes")
    return task


def _tokens(task, config: DemoConfig, progress: Progress, current: list) -> Path:
    """Mine, score and accept by the policy (`auto_vet`, whose scoring reports progress: its first report says
    mining is over); the decided list is saved for the sensitivity stage and the AdaPT run."""
    from adapt_core.models import load_tokenizer
    from adapt_core.token_policy import TokenPolicy, auto_vet

    progress.stage("mine", "running")
    policy = TokenPolicy(scorer=config.scorer, pplu_keep="high" if config.scorer else "off")

    written = [0.0]

    def scoring(done: int, total: int) -> None:
        if current[0] == "mine":
            progress.stage("mine", "done", f"{total} word-bounded candidates")
            current[0] = "score"
        if time.time() - written[0] >= 0.5 or done == total:  # a page polls once a second: no need to write more
            progress.stage("score", "running", f"{done} / {total} candidates scored")
            written[0] = time.time()

    vetted = auto_vet(task, config.model, policy, tokenizer=load_tokenizer(config.model), progress=scoring)
    if current[0] == "mine":  # no scorer, or every score came from the cache: no progress was reported
        progress.stage("mine", "done", f"{len(vetted)} word-bounded candidates")
    scored = [c.pplu for c in vetted if c.pplu is not None]
    cut = f", PPLu {min(scored):.1f} to {max(scored):.1f}" if scored else ""
    progress.stage("score", "done", f"{len(scored)} of {len(vetted)} scored by {config.scorer or 'no LM'}{cut}")
    current[0] = "vet"
    accepted = vetted.accepted()
    shown = ", ".join(f"“{t}”" for t in accepted[:8]) + (" …" if len(accepted) > 8 else "")
    progress.stage("vet", "done", f"{len(accepted)} of {len(vetted)} accepted: {shown}")
    if not accepted:
        raise AdaptError("the policy accepted no token on this slice: give the demo a larger slice (max_train)")
    return vetted.save(progress.folder / "vetted.json")


def adapt_settings(config: DemoConfig):
    """AdaPT's config for the demo run (and for the measurement it is handed)."""
    from adapt_core.methods import get_method

    return get_method("adapt").make(
        {"top_k": config.top_k, "beta": config.beta, "calibration_size": config.calibration_size}
    )


def _sensitivity(task, config: DemoConfig, vetted_file: Path, progress: Progress) -> Path:
    """Measure D and G with the accepted tokens added, as the AdaPT run would (same seed, max_length, init)."""
    from adapt_core.models import load_classifier
    from adapt_core.sensitivity import measure
    from adapt_core.token_record import run_tokens
    from adapt_core.workspace import save_report

    progress.stage("sensitivity", "running")
    settings = adapt_settings(config)
    model, tokenizer = load_classifier(config.model, task.num_labels, task.label_names, seed=config.seed)
    run_tokens(
        model,
        tokenizer,
        task,
        config.model,
        vetted_path=str(vetted_file),
        policy=settings.tokens,
        init=settings.token_init,
        seed=config.seed,
    )
    report = measure(model, tokenizer, task, settings.sensitivity_config(config.max_length, config.seed, config.device))
    selection = report.select(config.beta, config.top_k)
    names = ", ".join(selection.modules[:4]) + (" …" if len(selection.modules) > 4 else "")
    progress.stage(
        "sensitivity",
        "done",
        f"{len(selection.modules)} of {len(report.rows)} modules selected "
        f"({selection.percent:.1f} % of the non-embedding parameters, budget {config.top_k:g} %): {names}",
    )
    return save_report(report, progress.folder / "sensitivity.json")


def run_configs(config: DemoConfig, vetted_file: Path, report_file: Path) -> dict:
    """The two RunConfigs, method → config: the same slice, steps and seed; AdaPT gets the tokens and measurement."""
    from adapt_core.pipeline import RunConfig
    from adapt_core.train import TrainConfig

    train = TrainConfig(
        max_steps=config.max_steps,
        batch_size=config.batch_size,
        eval_every=config.eval_every,
        max_length=config.max_length,
        seed=config.seed,
        device=config.device,
    )
    common = {"dataset": config.dataset, "model": config.model, "data": config.data(), "train": train}
    return {
        "adapt": RunConfig(
            **common,
            method="adapt",
            settings=adapt_settings(config),
            tokens=str(vetted_file),
            sensitivity=str(report_file),
        ),
        "full": RunConfig(**common, method="full"),
    }


def _train(config: DemoConfig, vetted_file: Path, report_file: Path, progress: Progress, current: list) -> None:
    """Start both runs at once, side by side (one core each: the lesson is the comparison), and follow them until
    both have ended; each stage is marked done as its run ends."""
    from adapt_core import launcher
    from adapt_core.run_management import set_tags
    from adapt_core.run_reader import load_run

    root = progress.folder.parents[2]  # <root>/.studio/demo/<folder>
    runs = {}
    for method, run_config in run_configs(config, vetted_file, report_file).items():
        runs[method] = launcher.launch(run_config, root=root, label=f"demo-{method}", start=False)
        set_tags(runs[method], [DEMO_TAG])
    progress.update(runs={m: str(d) for m, d in runs.items()})
    for method in METHODS:
        launcher.start_now(runs[method], threads=1)
        progress.stage(method, "running", "started")
    current[0] = METHODS[0]
    waiting = list(METHODS)
    while waiting:
        time.sleep(1.0)
        launcher.queue_tick(root)  # reaps the children that ended
        for method in list(waiting):
            info = load_run(runs[method])
            if info.state not in launcher.TERMINAL:
                continue
            waiting.remove(method)
            current[0] = waiting[0] if waiting else method
            test = info.report.get("test", {}).get("macro_f1")
            detail = f"test macro-F1 {test:.3f}" if test is not None else launcher.describe(info)
            progress.stage(method, "done" if info.state == "completed" else "failed", detail)
            if info.state != "completed":
                raise AdaptError(f"the {method} run {info.id} ended {info.state}: {launcher.describe(info)}")


def live_line(run_dir: Path | str) -> str:
    """A training stage while it runs: progress and the latest dev macro-F1, from the run folder."""
    from adapt_core import launcher
    from adapt_core.run_reader import load_run

    info = load_run(run_dir)
    metrics = info.metrics()
    text = launcher.describe(info)
    if "dev_macro_f1" in metrics:
        dev = metrics["dev_macro_f1"].dropna()
        if len(dev):
            text += f" · dev macro-F1 {dev.iloc[-1]:.3f}"
    return text


if __name__ == "__main__":
    run_demo(sys.argv[1])
