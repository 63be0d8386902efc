"""Scoring a table a chunk of rows at a time, on every core the process may use.

Each row's scores depend on that row alone, so chunks are independent and write disjoint
slices of the result. The heavy steps (the network's matrix products, the neighbour distances,
the forest's table lookups) run in NumPy with the interpreter lock released, so two threads
score nearly twice the rows of one on two cores. BLAS itself is held to one thread around
scoring (``detector._one_blas_thread``): its own threads split these small products worse than
whole chunks do, and wait badly for a busy core.

The cancel check and the progress callback run on the caller's thread only, between chunks, as
they did when scoring was one loop: neither needs to be safe to call from elsewhere.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from . import sizing
from .progress import RowsCallback, StopCallback, TrainingCancelled

__all__ = ["HeadStart", "in_chunks", "score_workers"]

#: Below this many rows one thread scores the table: the hand-over would be most of the gain.
PARALLEL_ROWS = 16_384
#: More workers than this add temporaries (each holds a chunk's rows x features) for little.
MAX_WORKERS = 4
#: How often (seconds) the caller's thread looks at the cancel check while chunks run.
_POLL = 0.05


def score_workers(rows: int) -> int:
    """Threads that score ``rows`` rows: one for a small table, else one per usable core."""
    if rows < PARALLEL_ROWS:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


def in_chunks(
    rows: int,
    score: Callable[[slice], None],
    should_stop: StopCallback | None = None,
    on_scored: RowsCallback | None = None,
    workers: int | None = None,
    chunk: int | None = None,
) -> None:
    """Call ``score(span)`` for consecutive spans covering ``rows`` rows.

    The spans are ``chunk`` rows (default ``sizing.SCORE_CHUNK``) however many workers share
    them: where a span ends can move a row's last bits (a matrix product's rounding depends on
    its batch), so a table scores the same whatever the number of cores the process may use.
    Raises TrainingCancelled when ``should_stop`` says so; chunks already running are finished
    (their rows are thrown away with the rest), none is started after.
    """
    workers = score_workers(rows) if workers is None else max(1, int(workers))
    chunk = sizing.SCORE_CHUNK if chunk is None else max(1, int(chunk))
    spans = [slice(start, min(start + chunk, rows)) for start in range(0, rows, chunk)]
    if workers == 1 or len(spans) == 1:
        for span in spans:
            if should_stop is not None and should_stop():
                raise TrainingCancelled("scoring was cancelled")
            score(span)
            if on_scored is not None:
                on_scored(span.stop, rows)
        return
    halt = threading.Event()

    def run(span: slice) -> None:
        if not halt.is_set():
            score(span)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="anomaly-tui-score") as pool:
        futures: list[Future[None]] = [pool.submit(run, span) for span in spans]
        try:
            done = 0
            for span, future in zip(spans, futures, strict=True):
                # Progress is reported in row order: "n rows scored" means the first n.
                while not future.done():
                    if should_stop is not None and should_stop():
                        raise TrainingCancelled("scoring was cancelled")
                    wait([future], timeout=_POLL, return_when=FIRST_COMPLETED)
                future.result()
                done = span.stop
                if on_scored is not None:
                    on_scored(done, rows)
        except BaseException:
            halt.set()
            for future in futures:
                future.cancel()
            raise


class HeadStart:
    """Spans of a table scored ahead, from its end backwards, by a thread with time to spare
    (while the network trains on the other core), and taken over by :func:`in_chunks` later.

    The spans are :func:`in_chunks`'s own (``chunk`` rows from the first), each scored by the
    same function whoever scores it, so a span scored ahead gives the same bits. Each span is
    scored once: the thread ahead claims a span before scoring it and stops at the first one
    already claimed; :meth:`claim` claims one for the caller, or says it was scored ahead
    (waiting for it if it is being scored now).
    """

    _FREE, _AHEAD, _DONE, _TAKEN = range(4)

    def __init__(self, rows: int, chunk: int | None = None) -> None:
        chunk = sizing.SCORE_CHUNK if chunk is None else max(1, int(chunk))
        self.chunk = chunk
        self.spans = [slice(start, min(start + chunk, rows)) for start in range(0, rows, chunk)]
        self._state = [self._FREE] * len(self.spans)
        self._changed = threading.Condition()
        self._stop = threading.Event()

    def run(self, score: Callable[[slice], None], should_stop: StopCallback | None = None) -> int:
        """Score spans from the last one back, until :meth:`stop`, a claimed span, or a cancel;
        returns how many were scored. Runs on the thread ahead."""
        scored = 0
        for i in range(len(self.spans) - 1, -1, -1):
            if self._stop.is_set() or (should_stop is not None and should_stop()):
                break
            with self._changed:
                if self._state[i] != self._FREE:
                    break
                self._state[i] = self._AHEAD
            try:
                score(self.spans[i])
            except BaseException:
                with self._changed:
                    self._state[i] = self._FREE  # the caller scores it after all
                    self._changed.notify_all()
                raise
            with self._changed:
                self._state[i] = self._DONE
                self._changed.notify_all()
            scored += 1
        return scored

    def stop(self) -> None:
        """Start no span ahead from now on (the one being scored is finished)."""
        self._stop.set()

    def claim(self, span: slice) -> bool:
        """Whether ``span`` (one of :attr:`spans`) was scored ahead; False: it is the caller's
        to score, and will not be scored ahead."""
        i = span.start // self.chunk
        with self._changed:
            while self._state[i] == self._AHEAD:
                self._changed.wait()
            if self._state[i] == self._DONE:
                return True
            self._state[i] = self._TAKEN
            return False
