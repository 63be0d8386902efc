"""File in, explained detection out: the one path the CLI and the app both take.

``read → hash → cache lookup → (train and store) → score``. Every stage reports through
``on_stage`` so a caller can show where it is; training reports through ``on_progress`` and
stops when ``should_stop`` says so. Nothing here prints.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .atomic import write_bytes_atomic
from .baseline import SchemaMismatch, apply_column_map, compare_schema, drift_summary
from .cache import ModelCache, cache_inputs, cache_key
from .presets import DEFAULT_PERCENTILE
from .model.detector import Detection, TabularAnomalyDetector
from .model.forest import prepare_fit
from .model.roles import ColumnProfile, profile_columns
from .model.progress import ProgressCallback, StopCallback
from .model.sizing import FIT_ROWS, SCORE_CHUNK, auto_batch_size, auto_ensemble_epochs, auto_epochs
from .model.threshold import Threshold
from .tablestore import request_of, requests_for
from .rowchecks import TotalsRow, describe as describe_totals, leave_out_totals, small_table_warning, totals_of
from .io.reader import LoadedTable, SheetInfo, file_sha256, open_table, read_table

if TYPE_CHECKING:
    import pandas as pd

StageCallback = Callable[[str], None]


@dataclass
class DetectionSettings:
    """What the user chose; ``None`` means the detector's size-aware default."""

    model: str = "auto"
    threshold_percentile: float = DEFAULT_PERCENTILE
    epochs: int | None = None
    batch_size: int | None = None
    seed: int = 0
    roles: dict[str, str] | None = None
    use_cache: bool = True
    encoding_dim: int | None = None
    #: Keep rows that look like totals in the table (they are left out by default).
    keep_totals: bool = False

    def detector(self, rows: int | None = None) -> TabularAnomalyDetector:
        """The detector these settings describe for a table of ``rows`` rows (sizes the seed network)."""
        plan = size_defaults(rows, self.model) if rows is not None else None
        dim = self.encoding_dim or (plan.encoding_dim if plan and plan.encoding_dim else 8)
        return TabularAnomalyDetector(
            encoding_dim=dim,
            threshold_percentile=self.threshold_percentile,
            model=self.model,  # type: ignore[arg-type]
            random_state=self.seed,
            roles=dict(self.roles) if self.roles else None,
        )

    def train_options(self, rows: int | None = None) -> dict[str, Any]:
        plan = size_defaults(rows, self.model) if rows is not None else None
        epochs = self.epochs or (plan.fixed_epochs if plan else None)
        return {"epochs": epochs, "batch_size": self.batch_size, "validation_split": 0.2, "early_stopping": True}


#: Below this many rows the design note shrinks its network: bottleneck 4, 30 epochs.
SMALL_TABLE_ROWS = 1_000


@dataclass(frozen=True)
class SizeDefaults:
    """What training uses for a table of a given size when the user leaves it to the tool."""

    rows: int
    model: str
    batch_size: int | None
    epochs: int | None  # the most epochs (early stopping may end sooner); None: no network
    encoding_dim: int | None
    #: Set when the epochs are the design note's fixed count rather than a step budget.
    fixed_epochs: int | None

    def describe(self) -> str:
        """One line for the user: what will be used and why."""
        if self.batch_size is None:
            return f"{self.rows:,} rows: IsolationForest needs no epochs or batches."
        text = f"{self.rows:,} rows: batch {self.batch_size}, "
        if self.fixed_epochs:
            text += f"{self.fixed_epochs} epochs"
        else:
            text += f"up to {self.epochs} epochs (early stopping)"
        text += f", bottleneck {self.encoding_dim}"
        if self.model == "auto":
            if self.rows > FIT_ROWS:
                text += f", fitted on {FIT_ROWS:,} sampled rows (every row scored)"
        if self.model == "autoencoder" and self.rows < SMALL_TABLE_ROWS:
            text += " — the design note's advice below 1k rows (bottleneck 4, 30 epochs)"
        elif self.batch_size == 256:
            text += " — the design note's batch 256 above 10k rows"
        return text


def size_defaults(rows: int, model: str) -> SizeDefaults:
    """The size-aware defaults for ``rows`` rows and ``model`` (the design note's advice:
    batch 256 above 10k rows; bottleneck 4 and 30 epochs below 1k rows for its network)."""
    rows = int(rows)
    if model == "iforest":
        return SizeDefaults(rows, model, None, None, None, None)
    batch = auto_batch_size(rows)
    if model == "autoencoder" and rows < SMALL_TABLE_ROWS:
        return SizeDefaults(rows, model, batch, 30, 4, 30)
    epochs = auto_ensemble_epochs(rows, batch) if model == "auto" else auto_epochs(rows, batch)
    return SizeDefaults(rows, model, batch, epochs, 8, None)


@dataclass
class DetectionRun:
    """A scored table and everything needed to explain and export it."""

    path: Path
    sha256: str
    loaded: LoadedTable
    detector: TabularAnomalyDetector
    #: The scores and the threshold they are cut at (``detection.cut``): the run's one threshold.
    detection: Detection
    from_cache: bool
    cache_key: str | None
    #: What happened with the cache, in words ("hit", "stored", "could not store: …").
    cache_note: str
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    #: The data the model learned from: file, sha256, sheet, rows, trained_at.
    trained_on: dict[str, Any] = field(default_factory=dict)
    #: Rows left out of the table as totals rows (see :mod:`.totals`), as diagnostics lists them.
    totals: list[dict[str, Any]] = field(default_factory=list)
    #: Set when the model came from another table (see :func:`score_with_baseline`).
    baseline: bool = False
    schema: Any = None  # baseline.SchemaDiff
    drift: dict[str, Any] | None = None

    @property
    def frame(self):  # noqa: ANN201 - a DataFrame; pandas stays out of this module's imports
        return self.loaded.frame

    @property
    def threshold(self) -> Threshold:
        return self.detection.cut

    @property
    def threshold_percentile(self) -> float:
        percentile = self.detection.cut.percentile
        assert percentile is not None, "a run's threshold is always a percentile"
        return percentile

    def rethreshold(self, percentile: float) -> None:
        """Flag rows against another percentile of the training scores (no retraining)."""
        self.detection = self.detection.with_threshold(self.detector.threshold_for(percentile))


def cache_inputs_for(loaded: LoadedTable, sha256: str, settings: DetectionSettings) -> dict[str, Any]:
    """The cache key's inputs for this table and these settings (see :mod:`.cache`)."""
    return cache_inputs(
        source_sha256=sha256,
        sheet=loaded.report.sheet,
        header_row=loaded.report.header_row,
        detector=settings.detector(len(loaded.frame)),
        train_options=settings.train_options(len(loaded.frame)),
        left_out=list(loaded.left_out) or ([] if settings.keep_totals else [t.position for t in totals_of(loaded)]),
    )


def guessed_profiles(loaded: LoadedTable) -> list[ColumnProfile]:
    """The roles guessed for the table's columns (what Set up shows first), guessed once per
    table and kept with it in the cache, so that reopening the file does not guess again."""
    if loaded.profiles is None:
        loaded.profiles = tuple(profile_columns(loaded.frame))
    return list(loaded.profiles)


def first_look(loaded: LoadedTable) -> tuple[list[ColumnProfile], tuple[TotalsRow, ...]]:
    """What Set up shows once a table is read: the roles guessed for its columns and the rows
    that look like totals, each found once per table (:func:`guessed_profiles`,
    :func:`.rowchecks.totals_of`). The totals scan runs in a second thread beside the guess:
    both are mostly Arrow compute, which lets go of the interpreter lock (measured on the
    full-size sheet, 1,048,575 x 10: 0.74 s one after the other, 0.40 s side by side)."""
    if loaded.totals_found is not None or len(loaded.frame) < _BESIDE_ROWS:
        return guessed_profiles(loaded), totals_of(loaded)
    failed: list[BaseException] = []

    def scan() -> None:
        try:
            totals_of(loaded)
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            failed.append(exc)

    beside = threading.Thread(target=scan, name="totals-scan", daemon=True)
    beside.start()
    try:
        profiles = guessed_profiles(loaded)
    finally:
        beside.join()
    if failed:
        raise failed[0]
    return profiles, totals_of(loaded)


#: Below this many rows both take milliseconds: a thread would cost more than it saves.
_BESIDE_ROWS = 50_000


def table_key(cache_key: str | None, sha256: str, frame: pd.DataFrame) -> str | None:
    """Names one table a cached model scored (its entry's key, the file's content, the rows and
    columns it scored), so that its kept results are found again only for that very table: a
    baseline's model scoring another file, or the same file read another way, never matches."""
    if not cache_key:
        return None
    names = json.dumps([str(c) for c in frame.columns], ensure_ascii=True)
    text = f"{cache_key}\n{sha256}\n{len(frame)}\n{names}"
    return hashlib.sha256(text.encode()).hexdigest()


def _rows_stage(stage: StageCallback) -> Callable[[int, int], None]:
    """Scoring progress as a stage line, only while it is worth a word (a big table)."""

    def scored(done: int, total: int) -> None:
        if total > SCORE_CHUNK:
            stage(f"scoring every row: {done:,} of {total:,}")

    return scored


def load_source(
    path: str | os.PathLike[str],
    sheet: str | int | None = None,
    *,
    cancel: threading.Event | None = None,
    on_stage: Callable[[str], None] | None = None,
    cache: ModelCache | None = None,
) -> tuple[LoadedTable, str]:
    """Read one sheet and hash the file (the hash keys the cache and goes in the export).

    ``cancel`` stops a big file's read (:class:`~.reader.ReadCancelled`). With ``cache``, a
    table kept in it for a file of the same content, asked for alike, is taken instead of
    reading the file again (see :mod:`.tablestore`)."""
    digest = file_sha256(path)
    if cache is not None:
        kept = cache.find_table(digest, request_of(sheet), Path(path))
        if kept is not None:
            return kept, digest
    prepare_fit()
    loaded = read_table(path, sheet, cancel=cancel, on_stage=on_stage)
    loaded.asked = request_of(sheet)
    return loaded, digest


def open_source(
    path: str | os.PathLike[str],
    sheet: str | int | None = None,
    *,
    on_sheets: Callable[[list[SheetInfo]], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
    cache: ModelCache | None = None,
) -> tuple[list[SheetInfo], tuple[LoadedTable, str]]:
    """List the sheets and read one (:func:`~.reader.open_table`), and hash the file. With
    ``cache``, as :func:`load_source`: a kept table whose sheet list was kept too is taken."""
    if cache is not None:
        digest = file_sha256(path)
        kept = cache.find_table(digest, request_of(sheet), Path(path))
        if kept is not None and kept.sheets is not None:
            if on_sheets is not None:
                on_sheets(list(kept.sheets))
            return list(kept.sheets), (kept, digest)
    sheets, loaded = open_table(path, sheet, on_sheets=on_sheets, on_stage=on_stage, cancel=cancel)
    loaded.sheets, loaded.asked = tuple(sheets), request_of(sheet)
    # The app's read may be in a child process the import would compete with, and Set up is
    # where the user looks at the roles before training: import the forest while they do.
    prepare_fit()
    return sheets, (loaded, file_sha256(path))


@dataclass
class TrainedModel:
    """A detector for one table, trained now or taken from the cache."""

    detector: TabularAnomalyDetector
    from_cache: bool
    cache_key: str | None
    cache_note: str
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    #: What it was trained on: file name, sha256, sheet, rows, when.
    trained_on: dict[str, Any] = field(default_factory=dict)
    #: Trained now and to be cached once its table is scored (see run_detection).
    unstored: tuple[ModelCache, dict[str, Any], str] | None = None
    #: The frame it was trained on now (None: from the cache), untouched since by the pipeline.
    trained_frame: Any = field(default=None, repr=False)

    def store(
        self,
        detection: Detection | None = None,
        table: LoadedTable | None = None,
        requests: list[dict] | None = None,
        scored: tuple[LoadedTable, str] | None = None,
    ) -> Detection | None:
        """Cache the model trained now, with ``detection``'s results kept if given (returned as
        the detection to use from then on, see ``keep_results``; ``scored``: the table it is of,
        as scored, so that they are found again unencoded), and ``table`` (the table as read,
        found again by ``requests``) if given."""
        if self.unstored is None:
            return detection
        cache, inputs, name = self.unstored
        self.unstored = None
        if detection is not None:
            known_as = table_key(self.cache_key, scored[1], scored[0].frame) if scored is not None else None
            detection = self.detector.keep_results(detection, known_as=known_as) or detection
        if table is not None and table.profiles is None and scored is not None and scored[0] is table and not self.detector.roles:
            # Trained on the table as read, with no role changed: its guessed roles are known.
            table.profiles = tuple(self.detector.profiles_)
        t0 = time.perf_counter()
        try:
            cache.put(inputs, self.detector, source_name=name, table=table, requests=requests)
            self.cache_note = "stored" if self.cache_note == "miss" else f"{self.cache_note}; stored"
        except OSError as exc:
            self.cache_note = f"could not store: {exc.strerror or exc}"
            self.warnings.append(f"the model could not be cached ({exc.strerror or exc}); results are unaffected")
        self.timings["cache_store"] = time.perf_counter() - t0
        return detection


def obtain_model(
    path: str | os.PathLike[str],
    source: tuple[LoadedTable, str],
    settings: DetectionSettings,
    *,
    cache: ModelCache | None = None,
    on_stage: StageCallback | None = None,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
    store: bool = True,
) -> TrainedModel:
    """The cached model for this table and settings, or a newly trained (and cached) one.

    ``store=False``: a newly trained model is cached by :meth:`TrainedModel.store`, once the
    caller has scored the table (and can keep its results with it)."""
    stage = on_stage or (lambda _message: None)
    # Called on its own (a baseline, `train`) as from run_detection: totals rows are no more to
    # learn from here (a table already without them is looked at no further).
    source, _ = without_totals(source, settings.keep_totals)
    loaded, digest = source
    frame = loaded.frame
    if len(frame) == 0:
        raise ValueError("the sheet has a header but no data rows")
    timings: dict[str, float] = {}
    detector = settings.detector(len(frame))
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
            detector.train(
                frame,
                on_progress=on_progress,
                should_stop=should_stop,
                on_scored=_rows_stage(stage),
                # Set up guessed them on this very table (the detector checks the rows).
                guessed=loaded.profiles,
                **settings.train_options(len(frame)),
            )
        run_warnings.extend(str(w.message) for w in caught if issubclass(w.category, (RuntimeWarning, UserWarning)))
        timings["train"] = time.perf_counter() - t0
    trained_on = {
        "file": Path(path).name,
        "sha256": digest,
        "sheet": loaded.report.sheet,
        "rows": int(detector.training_params_.get("rows") or len(frame)),
        "trained_at": detector.trained_at_,
    }
    model = TrainedModel(detector, from_cache, key, note, run_warnings, timings, trained_on)
    if not from_cache:
        model.trained_frame = frame
    if not from_cache and settings.use_cache and cache is not None and inputs is not None:
        model.unstored = (cache, inputs, Path(path).name)
        if store:
            model.store()
    return model


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
    path = Path(path)
    started = time.perf_counter()
    if settings.use_cache:
        cache = cache or ModelCache()
    as_read = source
    if source is None:
        stage(f"reading {path.name}")
        as_read = source = load_source(path, sheet, cache=cache if settings.use_cache else None)
    read_seconds = time.perf_counter() - started
    source, totals = without_totals(source, settings.keep_totals)
    model = obtain_model(
        path, source, settings, cache=cache, on_stage=stage, on_progress=on_progress, should_stop=should_stop, store=False
    )
    run = score_table(path, source, model, settings.threshold_percentile, on_stage=stage, should_stop=should_stop)
    if model.from_cache and settings.use_cache and cache is not None and as_read is not None:
        # The app listed the sheets while reading: an entry ``detect`` made keeps them from now on.
        model_inputs = cache_inputs_for(source[0], source[1], settings)
        cache.keep_table(model_inputs, as_read[0], requests_for(as_read[0]))
    if model.unstored is not None:
        # Cached with this table's results, so reopening the same file scores nothing again.
        known = len(model.warnings)
        loaded = as_read[0]
        run.detection = model.store(run.detection, loaded, requests_for(loaded), scored=source)
        run.cache_note = model.cache_note
        run.warnings.extend(model.warnings[known:])
    run.totals = totals
    run.timings = {"read": read_seconds, **model.timings, **run.timings, "total": time.perf_counter() - started}
    return run


def without_totals(source: tuple[LoadedTable, str], keep: bool = False) -> tuple[tuple[LoadedTable, str], list[dict[str, Any]]]:
    """The table without its totals rows (unless ``keep``), and those rows as diagnostics lists them."""
    if keep:
        return source, []
    loaded, digest = source
    trimmed, found = leave_out_totals(loaded)
    if not found:
        return source, []
    return (trimmed, digest), describe_totals(found, loaded)


def score_table(
    path: str | os.PathLike[str],
    source: tuple[LoadedTable, str],
    model: TrainedModel,
    threshold_percentile: float,
    *,
    on_stage: StageCallback | None = None,
    should_stop: StopCallback | None = None,
) -> DetectionRun:
    """Score a table with a model (its own, or a baseline's: see :func:`score_with_baseline`)."""
    stage = on_stage or (lambda _message: None)
    loaded, digest = source
    detector = model.detector
    stage("scoring")
    t0 = time.perf_counter()
    detection = detector.detect(
        loaded.frame,
        threshold=detector.threshold_for(threshold_percentile),
        should_stop=should_stop,
        on_scored=_rows_stage(stage),
        known_as=table_key(model.cache_key, digest, loaded.frame) if model.from_cache else None,
        as_trained=model.trained_frame is loaded.frame,
    )
    return DetectionRun(
        path=Path(path),
        sha256=digest,
        loaded=loaded,
        detector=detector,
        detection=detection,
        from_cache=model.from_cache,
        cache_key=model.cache_key,
        cache_note=model.cache_note,
        warnings=[*model.warnings, *filter(None, [small_table_warning(len(loaded.frame))])],
        timings={"score": time.perf_counter() - t0},
        trained_on=model.trained_on,
    )


def score_with_baseline(
    path: str | os.PathLike[str],
    source: tuple[LoadedTable, str],
    model: TrainedModel,
    threshold_percentile: float,
    *,
    column_map: dict[str, str] | None = None,
    on_stage: StageCallback | None = None,
    keep_totals: bool = False,
) -> DetectionRun:
    """Score a new table with a model trained on another: check the columns first, then score,
    then summarise how far the new table drifted from the training data.

    Raises:
        SchemaMismatch: a model column is missing from the table (the diff is attached).
    """
    loaded, digest = source
    if column_map:
        loaded = LoadedTable(
            apply_column_map(loaded.frame, column_map), loaded.report, loaded.excel_rows, loaded.source_rows
        )
    if len(loaded.frame) == 0:
        raise ValueError("the sheet has a header but no data rows")
    (loaded, digest), totals = without_totals((loaded, digest), keep_totals)
    diff = compare_schema(model.detector, loaded.frame)
    diff.mapped = [{"table": new, "model": old} for new, old in (column_map or {}).items()]
    if not diff.ok:
        raise SchemaMismatch(diff)
    run = score_table(path, (loaded, digest), model, threshold_percentile, on_stage=on_stage)
    run.totals = totals
    run.schema = diff
    run.drift = drift_summary(model.detector, run.detection)
    run.baseline = True
    return run


TRAINED_ON_FILE = "trained_on.json"


def save_model(model: TrainedModel, directory: str | os.PathLike[str]) -> Path:
    """Save the detector (data only) plus a note of what it was trained on."""
    target = model.detector.save(directory)
    note = json.dumps({k: v for k, v in model.trained_on.items() if k != "model_dir"}, indent=1)
    write_bytes_atomic(target / TRAINED_ON_FILE, note.encode("utf-8"), overwrite=True)
    return target


def model_from_dir(directory: str | os.PathLike[str]) -> TrainedModel:
    """A model saved with ``TabularAnomalyDetector.save`` (or ``anomaly-tui train --save``).

    Raises:
        ModelFileError: the directory holds no model, or a damaged one.
    """
    path = Path(directory)
    detector = TabularAnomalyDetector.load(path)
    trained_on: dict[str, Any] = {
        "file": None,
        "sha256": None,
        "sheet": None,
        "rows": detector.training_params_.get("rows"),
        "trained_at": detector.trained_at_,
    }
    try:
        # Informational only (not covered by the manifest's checksums), so only plain strings.
        note = json.loads((path / TRAINED_ON_FILE).read_text(encoding="utf-8")[:10_000])
        for key in ("file", "sha256", "sheet"):
            if isinstance(note.get(key), str):
                trained_on[key] = note[key]
    except (OSError, ValueError, AttributeError):
        pass
    trained_on["model_dir"] = str(path)
    return TrainedModel(detector, False, None, "model directory", [], {}, trained_on)
