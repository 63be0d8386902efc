"""File in, explained detection out: the one path the CLI and the app both take.

``read → hash → cache lookup → (train and store) → score``. Every stage reports through
``on_stage`` so a caller can show where it is; training reports through ``on_progress`` and
stops when ``should_stop`` says so. Nothing here prints.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cache import ModelCache, cache_inputs, cache_key
from .detector import Detection, TabularAnomalyDetector
from .progress import ProgressCallback, StopCallback
from .reader import LoadedTable, file_sha256, read_table

StageCallback = Callable[[str], None]


@dataclass
class DetectionSettings:
    """What the user chose; ``None`` means the detector's size-aware default."""

    model: str = "auto"
    threshold_percentile: float = 95.0
    epochs: int | None = None
    batch_size: int | None = None
    seed: int = 0
    roles: dict[str, str] | None = None
    use_cache: bool = True

    def detector(self) -> TabularAnomalyDetector:
        return TabularAnomalyDetector(
            threshold_percentile=self.threshold_percentile,
            model=self.model,  # type: ignore[arg-type]
            random_state=self.seed,
            roles=dict(self.roles) if self.roles else None,
        )

    def train_options(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "batch_size": self.batch_size, "validation_split": 0.2, "early_stopping": True}


@dataclass
class DetectionRun:
    """A scored table and everything needed to explain and export it."""

    path: Path
    sha256: str
    loaded: LoadedTable
    detector: TabularAnomalyDetector
    detection: Detection
    threshold_percentile: float
    from_cache: bool
    cache_key: str | None
    #: What happened with the cache, in words ("hit", "stored", "could not store: …").
    cache_note: str
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def frame(self):  # noqa: ANN201 - a DataFrame; pandas stays out of this module's imports
        return self.loaded.frame

    def rethreshold(self, percentile: float) -> None:
        """Flag rows against another percentile of the training scores (no retraining)."""
        threshold = self.detector.threshold_at(percentile)
        detection = self.detection
        detection.threshold = threshold
        detection.flags = detection.scores > threshold
        self.threshold_percentile = float(percentile)


def cache_inputs_for(loaded: LoadedTable, sha256: str, settings: DetectionSettings) -> dict[str, Any]:
    """The cache key's inputs for this table and these settings (see :mod:`.cache`)."""
    return cache_inputs(
        source_sha256=sha256,
        sheet=loaded.report.sheet,
        header_row=loaded.report.header_row,
        detector=settings.detector(),
        train_options=settings.train_options(),
    )


def load_source(path: str | os.PathLike[str], sheet: str | int | None = None) -> tuple[LoadedTable, str]:
    """Read one sheet and hash the file (the hash keys the cache and goes in the export)."""
    digest = file_sha256(path)
    loaded = read_table(path, sheet)
    return loaded, digest


def run_detection(
    path: str | os.PathLike[str],
    settings: DetectionSettings,
    *,
    sheet: str | int | None = None,
    source: tuple[LoadedTable, str] | None = None,
    cache: ModelCache | None = None,
    on_stage: StageCallback | None = None,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
) -> DetectionRun:
    """Read (unless ``source`` is given), train or reuse a cached model, and score every row.

    Raises:
        ReadError: the file cannot be read.
        ValueError: the table has nothing to learn from (too few rows, no usable column).
        TrainingCancelled: ``should_stop`` returned true.
    """
    stage = on_stage or (lambda _message: None)
    timings: dict[str, float] = {}
    path = Path(path)
    started = time.perf_counter()
    if source is None:
        stage(f"reading {path.name}")
        source = load_source(path, sheet)
    loaded, digest = source
    timings["read"] = time.perf_counter() - started
    frame = loaded.frame
    if len(frame) == 0:
        raise ValueError("the sheet has a header but no data rows")

    detector = settings.detector()
    options = settings.train_options()
    key: str | None = None
    inputs: dict[str, Any] | None = None
    from_cache = False
    note = "not used (--no-cache)" if not settings.use_cache else "miss"
    if settings.use_cache:
        cache = cache or ModelCache()
        inputs = cache_inputs_for(loaded, digest, settings)
        key = cache_key(inputs)
        stage("looking for a cached model")
        t0 = time.perf_counter()
        cached = cache.get(inputs)
        timings["cache_lookup"] = time.perf_counter() - t0
        if cached is not None:
            detector, from_cache, note = cached, True, "hit"
        elif cache.last_miss and cache.last_miss != "absent":
            note = f"miss: {cache.last_miss}"

    run_warnings: list[str] = []
    if not from_cache:
        stage("training")
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            detector.train(frame, on_progress=on_progress, should_stop=should_stop, **options)
        run_warnings.extend(str(w.message) for w in caught if issubclass(w.category, (RuntimeWarning, UserWarning)))
        timings["train"] = time.perf_counter() - t0
        if settings.use_cache and cache is not None and inputs is not None:
            t0 = time.perf_counter()
            try:
                cache.put(inputs, detector, source_name=path.name)
                note = "stored" if note == "miss" else f"{note}; stored"
            except OSError as exc:
                note = f"could not store: {exc.strerror or exc}"
                run_warnings.append(f"the model could not be cached ({exc.strerror or exc}); results are unaffected")
            timings["cache_store"] = time.perf_counter() - t0

    stage("scoring")
    t0 = time.perf_counter()
    percentile = float(settings.threshold_percentile)
    threshold = None
    if from_cache and percentile != float(detector.threshold_percentile):
        threshold = detector.threshold_at(percentile)
    detection = detector.detect(frame, threshold=threshold)
    timings["score"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started
    return DetectionRun(
        path=path,
        sha256=digest,
        loaded=loaded,
        detector=detector,
        detection=detection,
        threshold_percentile=percentile,
        from_cache=from_cache,
        cache_key=key,
        cache_note=note,
        warnings=run_warnings,
        timings=timings,
    )
