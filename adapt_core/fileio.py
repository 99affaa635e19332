"""Writing a file so that a crash never leaves half of it, reading a JSON file that may be damaged, and locking a
file against a second writer.

The one copy of this infrastructure in the project: run folders, the studio's working files, the vetted lists, the
mining output, the perplexity cache and the grid's results all write through `atomic_write_*`, every JSON object
file that may be damaged is read through `read_object` / `read_json`, and every lock is an `exclusive_lock`.

An atomic write goes to a temporary file beside the target (`.<name>.<pid>.tmp`, same folder so the rename stays on
one file system), is flushed to disk, then renamed over the target: a reader sees the old file or the new one,
never a mix. A write that fails removes its temporary file; one left behind by a killed process is removed by the
next write of the same file (only when the process that wrote it is gone, so a concurrent writer is never robbed).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from adapt_core.errors import AdaptError


def temp_path(path: Path) -> Path:
    """The temporary file this process writes before renaming it to `path`."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def clean_stale_temps(path: Path) -> list[Path]:
    """Remove temporary files of `path` left by writers that no longer run; returns what was removed."""
    removed = []
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        pid = tmp.name[len(path.name) + 2 : -len(".tmp")]
        if pid.isdigit() and int(pid) != os.getpid() and pid_alive(int(pid)):
            continue  # another live process is writing it right now
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            removed.append(tmp)
    return removed


def pid_alive(pid: int) -> bool:
    """Whether a process `pid` exists (one owned by someone else counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


@contextlib.contextmanager
def atomic_target(path: Path | str) -> Iterator[Path]:
    """A temporary path beside `path` to write into; on leaving the block it replaces `path` at once, or is
    removed if the block failed (see the module docstring). For writers that need a file name (a zip archive)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path)
    tmp = temp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    """Replace `path` by `data` atomically (see the module docstring); returns `path`."""
    with atomic_target(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return Path(path)


def atomic_write_text(path: Path | str, text: str) -> Path:
    """Replace `path` by UTF-8 `text` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path | str, payload, indent: int | None = 2, **dumps) -> Path:
    """Replace `path` by `payload` as JSON atomically (numpy / torch scalars and arrays become plain numbers)."""
    return atomic_write_text(path, json.dumps(payload, indent=indent, default=jsonable, **dumps))


def jsonable(value):
    """`json.dumps(default=…)`: numpy / torch scalars and arrays as numbers and lists, anything else as text."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


class Unreadable(AdaptError):
    """A file that cannot be read (truncated, empty, not JSON, wrong shape); the message is `<file>: <reason>`."""


def read_object(path: Path | str) -> dict:
    """The JSON object in `path`; FileNotFoundError when absent, `Unreadable("<file>: <reason>")` when damaged."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise Unreadable(f"{path.name}: not UTF-8 text (byte {err.start})") from err
    except IsADirectoryError as err:
        raise Unreadable(f"{path.name}: a folder, not a file") from err
    if not text.strip():
        raise Unreadable(f"{path.name}: empty file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise Unreadable(f"{path.name}: not valid JSON, truncated? ({err.msg} at line {err.lineno})") from err
    if not isinstance(data, dict):
        raise Unreadable(f"{path.name}: a JSON {type(data).__name__} where an object was expected")
    return data


def read_json(path: Path | str) -> dict:
    """A JSON object from `path`; {} when it is missing or damaged (for writers that replace it anyway)."""
    try:
        return read_object(path)
    except (FileNotFoundError, Unreadable):
        return {}


class Locked(AdaptError):
    """The lock is held by another process (raised only when not waiting for it)."""


@contextlib.contextmanager
def exclusive_lock(path: Path | str, wait: bool = True, message: str | None = None) -> Iterator[Path]:
    """Hold an exclusive `fcntl` lock on the file `path` (created if missing) for the `with` block.

    `wait=False` raises `Locked(message)` at once when another process holds it. The kernel drops the lock when the
    holder exits, however it dies, so a crashed holder never leaves a stale lock. Where fcntl is missing (not
    POSIX) the block runs without a lock.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: best effort without a lock
            yield path
            return
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as err:
            raise Locked(message or f"{path} is locked by another process; wait for it to finish") from err
        try:
            yield path
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
