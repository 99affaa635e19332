"""Data-parallel training through `accelerate launch`, with two CPU processes (gloo) standing in for two GPUs.

The launched program is the ordinary command line (`adapt_core.cli.main(["train", …])`, what `-m adapt_core train`
runs). The only addition is on the test's side: a small driver wraps `pipeline.train_steps` so that, when training
ends, each rank writes a digest of its model's weights to a folder of the test. The library has no code path for
this. The test then checks that:
- both ranks ran, in one world of two processes, and end with bit-identical weights;
- the run folder was written once: one metrics line per optimizer step, and half the steps a single process would
  take (each rank saw half of every epoch), status completed, no stray temporary files;
- the saved model holds exactly the weights the ranks agree on.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

from helpers_toy import write_toy_jsonl

from adapt_core.data import DataConfig, load_dataset
from adapt_core.methods import load_trained

ROOT = Path(__file__).resolve().parents[1]
BATCH = 8

DRIVER = """
import hashlib, json, sys
from pathlib import Path

from accelerate import PartialState

import adapt_core.pipeline as pipeline
from adapt_core.cli import main

out = Path(sys.argv.pop(1))
original = pipeline.train_steps


def recording(model, *args, **kwargs):
    yield from original(model, *args, **kwargs)
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    state = PartialState()
    record = {"digest": digest.hexdigest(), "world": state.num_processes, "rank": state.process_index}
    (out / f"rank{state.process_index}.json").write_text(json.dumps(record))


pipeline.train_steps = recording
sys.exit(main(sys.argv[1:]))
"""


def weights_digest(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_train_one_model(tmp_path):
    data = write_toy_jsonl(tmp_path / "toy.jsonl", n=80)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    digests, run_dir = tmp_path / "digests", tmp_path / "run"
    digests.mkdir()
    launch = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(free_port()),
    ]
    train = [
        "train",
        "--dataset",
        str(data),
        "--model",
        "tiny-bert",
        "--method",
        "adapt-no-tokens",  # the sparse selection across processes (merged new tokens would change the digest)
        "--top-k",
        "20",
        "--epochs",
        "1",
        "--batch-size",
        str(BATCH),
        "--lr",
        "1e-2",
        "--device",
        "cpu",
        "--run-dir",
        str(run_dir),
        "--quiet",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [*launch, str(driver), str(digests), *train],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    ranks = [json.loads((digests / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in ranks] == [2, 2]
    assert ranks[0]["digest"] == ranks[1]["digest"]

    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    train_size = len(load_dataset(str(data), DataConfig())["train"])
    alone = math.ceil(train_size / BATCH)
    assert [r["step"] for r in lines] == list(range(1, math.ceil(alone / 2) + 1))
    assert json.loads((run_dir / "status.json").read_text())["state"] == "completed"
    assert not [p for p in run_dir.rglob("*") if p.name.endswith(".tmp")]

    model, _ = load_trained(run_dir / "model")
    assert weights_digest(model) == ranks[0]["digest"]
