"""What a run's status says: its states and phases, whether its process still runs, and the lines that show it.

A run's status.json (written by `run_writer.RunWriter`) records a state (STATES), the phase the run is in (PHASES)
with its progress and the timeline of every phase, and the writing process as pid and pid_start: an identity that a
reused pid does not share, so `is_alive` never mistakes another process for the run's. The studio's pages, the
launcher and the CLI turn a status into text through `phase_text`, `phase_timeline` and `eval_text`, so a phase
reads the same everywhere. Kept apart from the writer and the reader because both need it and neither owns it.
"""

from __future__ import annotations

import time
from pathlib import Path

from adapt_core.fileio import pid_alive

STATES = ("queued", "running", "completed", "failed", "cancelled", "interrupted")
# The phases of a run, in order, with what the studio and the CLI call them (a run skips those its method lacks).
PHASES = {
    "load": "loading data and model",
    "mine": "mining candidate tokens",
    "score": "scoring candidates (PPLu)",
    "accept": "accepting tokens",
    "sensitivity": "measuring sensitivity",
    "train": "training",
    "evaluate": "evaluating on dev and test",
    "save": "saving the model",
}


def phase_text(status: dict, now: float | None = None) -> str | None:
    """The phase a status is in, as a line: its name and progress (done/total; the seconds it has run when it is not
    counted). None when no phase is recorded."""
    name = status.get("phase")
    if name not in PHASES:
        return None
    text = PHASES[name]
    done, total, started = status.get("phase_done"), status.get("phase_total"), status.get("phase_started")
    if isinstance(done, int) and isinstance(total, int) and total:
        text += f" {done}/{total}"
    elif isinstance(started, int | float):
        text += f" ({max((now or time.time()) - started, 0):.0f} s)"
    return text


def phase_timeline(status: dict, now: float | None = None) -> list[tuple[str, float, bool]]:
    """(phase, seconds it took or has taken so far, whether it is the current one) for each phase of the timeline."""
    timeline = [p for p in status.get("phases") or [] if isinstance(p, dict) and p.get("name") in PHASES]
    out = []
    for i, p in enumerate(timeline):
        current = i == len(timeline) - 1 and status.get("state") == "running"
        end = p.get("ended", (now or time.time()) if current else status.get("updated"))
        seconds = (
            end - p["started"] if isinstance(end, int | float) and isinstance(p.get("started"), int | float) else 0
        )
        out.append((p["name"], max(float(seconds), 0.0), current))
    return out


def eval_text(status: dict) -> str | None:
    """The dev evaluation running between training steps, with its batches; None when none runs."""
    done, total = status.get("eval_done"), status.get("eval_total")
    if isinstance(done, int) and isinstance(total, int) and total:
        return f"evaluating on dev {done}/{total} batches"
    return None


# ----------------------------------------------------------------------------------------------------- liveness


def process_start(pid: int) -> str | None:
    """An identity of the running process `pid` that a reused pid does not share: its start time (Linux: field 22
    of /proc/<pid>/stat, in clock ticks since boot; elsewhere psutil's create time). None when no such process."""
    try:
        fields = Path(f"/proc/{int(pid)}/stat").read_text().rsplit(")", 1)[1].split()  # from field 3 on
        return None if fields[0] in "ZX" else "proc:" + fields[19]  # a zombie has finished: not alive
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None  # /proc works here: the process is gone
    except (OSError, IndexError, ValueError):
        pass
    try:
        import psutil

        return f"psutil:{psutil.Process(int(pid)).create_time():.3f}"
    except ImportError:
        return "unknown" if pid_alive(int(pid)) else None
    except Exception:  # psutil.NoSuchProcess / AccessDenied: gone, or not ours to inspect
        return None


def is_alive(status: dict) -> bool:
    """Whether the process recorded in a status (pid, pid_start) is alive and is the same process."""
    pid = status.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    now = process_start(pid)
    if now is None:
        return False
    recorded = status.get("pid_start")
    return recorded is None or now == "unknown" or now == recorded  # folders from before pid_start: pid alone
