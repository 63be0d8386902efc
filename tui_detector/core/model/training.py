"""What the NumPy and the Keras trainers share: the validation split, the epoch loop with its
cancel check and throttled progress, and early stopping.

Each trainer supplies only its gradient step (rows in, batch loss out) and its own way of
measuring the validation loss, so both report, stop and give up the same way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import progress
from .progress import ProgressCallback, StopCallback, TrainingCancelled, TrainingProgress


@dataclass(frozen=True)
class TrainSettings:
    """What both trainers are told: the network's shape and how to train it (built from the
    detector's ``FitPlan``; the callbacks travel separately)."""

    hidden: tuple[int, ...]
    encoding_dim: int
    epochs: int
    batch_size: int
    validation_split: float
    seed: int
    #: Epochs without improvement before stopping; None trains every epoch.
    patience: int | None
    learning_rate: float = 1e-3


def split_validation(data: np.ndarray, validation_split: float) -> tuple[np.ndarray, np.ndarray | None]:
    """The last ``validation_split`` share of (already shuffled) rows held out, when at least
    two rows are left to train on."""
    n_val = int(round(data.shape[0] * validation_split)) if validation_split > 0 else 0
    if n_val and data.shape[0] - n_val < 2:
        n_val = 0
    return (data[:-n_val], data[-n_val:]) if n_val else (data, None)


def check_cancel(should_stop: StopCallback | None) -> None:
    if should_stop is not None and should_stop():
        raise TrainingCancelled("training was cancelled")


class EarlyStopping:
    """Stops after ``patience`` epochs without a relative improvement of 0.1% of the monitored
    loss (relative, so the rule means the same for losses of 1.0 and of 0.001)."""

    def __init__(self, patience: int | None) -> None:
        self.patience = patience
        self.reset()

    def reset(self) -> None:
        self.best = math.inf
        self.waited = 0

    def improved(self, monitored: float) -> bool:
        """Record an epoch's loss; true when it is the best so far (keep these weights)."""
        if monitored < self.best * (1 - 1e-3):
            self.best = monitored
            self.waited = 0
            return True
        self.waited += 1
        return False

    @property
    def exhausted(self) -> bool:
        return self.patience is not None and self.waited >= self.patience


class EpochLoop:
    """Runs epochs of batches and reports them.

    ``epochs`` and ``batches`` may change between epochs (the NumPy trainer's second half trains
    on fewer rows for more epochs); reports use the current values.
    """

    def __init__(
        self,
        *,
        epochs: int,
        batches: int,
        on_progress: ProgressCallback | None,
        should_stop: StopCallback | None,
    ) -> None:
        self.epochs = epochs
        self.batches = batches
        self.on_progress = on_progress
        self.should_stop = should_stop
        self.val_loss: float | None = None
        self._start = time.monotonic()
        self._last_report = 0.0

    def report(self, epoch: int, batch: int, loss: float | None, epoch_end: bool) -> None:
        if self.on_progress is None:
            return
        elapsed = time.monotonic() - self._start
        done = epoch * self.batches + batch
        total = self.epochs * self.batches
        self.on_progress(
            TrainingProgress(
                epoch=epoch + 1,
                epochs=self.epochs,
                batch=batch,
                batches=self.batches,
                loss=loss,
                val_loss=self.val_loss,
                elapsed=elapsed,
                eta=elapsed / done * (total - done) if done else None,
                epoch_end=epoch_end,
            )
        )

    def run_epoch(
        self,
        epoch: int,
        train: np.ndarray,
        batch_size: int,
        rng: np.random.Generator,
        step: Callable[[np.ndarray], float],
    ) -> float:
        """One pass over ``train`` in shuffled batches; the mean loss per row.

        Raises:
            TrainingCancelled: ``should_stop`` returned true (asked after every batch).
            FloatingPointError: the loss became NaN or infinite.
        """
        order = rng.permutation(train.shape[0])
        total_loss = 0.0
        for b in range(self.batches):
            rows = train[order[b * batch_size : (b + 1) * batch_size]]
            total_loss += step(rows) * rows.shape[0]
            check_cancel(self.should_stop)
            now = time.monotonic()
            if self.on_progress is not None and now - self._last_report >= progress.PROGRESS_INTERVAL:
                self._last_report = now
                self.report(epoch, b + 1, total_loss / min((b + 1) * batch_size, train.shape[0]), False)
        epoch_loss = total_loss / train.shape[0]
        if not math.isfinite(epoch_loss):
            raise FloatingPointError("training diverged (the loss became NaN or infinite)")
        return epoch_loss

    def end_epoch(self, epoch: int, history: dict[str, list[float]], loss: float, val_loss: float | None) -> float:
        """Record and report a finished epoch; the loss early stopping watches."""
        history["loss"].append(loss)
        monitored = loss
        if val_loss is not None:
            self.val_loss = val_loss
            history["val_loss"].append(val_loss)
            monitored = val_loss
        self.report(epoch, self.batches, loss, True)
        return monitored
