"""Progress that reports on the clock, not on counts: a user watching a bar needs news every couple of seconds
whatever the work is (a 64-candidate PPLu batch took 20 s on a laptop; a tiny eval batch takes a millisecond).

`Throttled` passes a `progress(done, total)` call on at most every `seconds` (the first and the last always), so a
fast loop does not rewrite status.json a thousand times; `timed_chunks` cuts work into chunks that each take at most
about `target` seconds (it shrinks the chunk when one took longer), so a slow loop reports often enough.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

UPDATE_SECONDS = 2.0  # the longest a bar may stand still while work is going on
CHUNK_SECONDS = UPDATE_SECONDS / 2  # a chunk aims at half of it: one slow chunk still keeps the promise
CLOCK = time.monotonic  # read at each call, so a test can put a fake clock here


class Throttled:
    """A `progress(done, total)` callback that calls `callback` at most every `seconds`; the first call and the
    last (done >= total) always go through, so a bar starts and ends exactly."""

    def __init__(self, callback: Callable[[int, int], None], seconds: float = 0.5, clock=None):
        self.callback, self.seconds, self.clock = callback, seconds, clock or CLOCK
        self._last: float | None = None

    def __call__(self, done: int, total: int) -> None:
        now = self.clock()
        if self._last is None or done >= total or now - self._last >= self.seconds:
            self._last = now
            self.callback(done, total)


def timed_chunks(n: int, size: int, target: float = CHUNK_SECONDS, clock=None) -> Iterator[slice]:
    """Slices covering range(n) in order, at most `size` long; after a chunk that took longer than `target` (timed
    from its yield to the request for the next), the next ones are shorter in proportion (never below 1)."""
    start, clock = 0, clock or CLOCK
    while start < n:
        stop = min(start + size, n)
        began = clock()
        yield slice(start, stop)
        took = clock() - began
        if took > target:
            size = max(1, int(size * target / took))
        start = stop
