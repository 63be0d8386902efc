"""Plain objects that training reports through: progress, cancellation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import AnomalyTuiError

#: Seconds between progress reports within an epoch, for both trainers (NumPy and Keras).
PROGRESS_INTERVAL = 0.2


@dataclass(frozen=True)
class TrainingProgress:
    """Where training stands; sent per epoch and a few times a second within one."""

    epoch: int  # 1-based, the epoch in progress or just finished
    epochs: int  # the most epochs training will run (early stopping may end sooner)
    batch: int  # batches done in this epoch
    batches: int  # batches per epoch
    loss: float | None
    val_loss: float | None
    elapsed: float  # seconds since training started
    eta: float | None  # seconds left if every epoch runs
    epoch_end: bool = False
    #: Before the first epoch the table is prepared (columns profiled and encoded, the
    #: non-network parts fitted): what is being done then, else ``None``.
    preparing: str | None = None
    #: preparation steps done, and in all (known only while ``preparing``)
    prepared: int = 0
    prepare_steps: int = 0

    @property
    def fraction(self) -> float:
        done = (self.epoch - 1) * self.batches + self.batch
        total = max(self.epochs * self.batches, 1)
        return min(done / total, 1.0)


def preparation(step: str, done: int, steps: int, elapsed: float) -> TrainingProgress:
    """The report sent as preparation step ``done`` (from 0) of ``steps`` begins."""
    return TrainingProgress(0, 0, 0, 0, None, None, elapsed, None, preparing=step, prepared=done, prepare_steps=steps)


#: Preparation steps every trainer reports (the detector's two, then the scorer's own).
PREPARE_STEPS = 3


ProgressCallback = Callable[[TrainingProgress], None]
StopCallback = Callable[[], bool]
#: (rows scored so far, rows in all): scoring every row of a big table takes a while.
RowsCallback = Callable[[int, int], None]


class TrainingCancelled(AnomalyTuiError):
    """Training was stopped by its ``should_stop`` callable; nothing was fitted."""
