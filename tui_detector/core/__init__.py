"""Headless core of anomaly-tui: reading files, column roles, preprocessing, models, explanations.

Nothing here imports Textual or Rich, and TensorFlow is imported only inside the functions that
train a network.

This module is the small public surface the app works through: every name in ``__all__`` is
looked up in ``_EXPORTS`` and its module imported on first use (PEP 562), so importing
``tui_detector.core`` loads neither pandas nor scikit-learn, and a screen can name what it needs
from here without paying for it before it needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    # Cheap: presets, formats, units and the environment load no NumPy or pandas.
    "DEFAULT_PERCENTILE": "tui_detector.core.presets",
    "DEFAULT_PRESET": "tui_detector.core.presets",
    "PRESETS": "tui_detector.core.presets",
    "check_percentile": "tui_detector.core.presets",
    "preset_for": "tui_detector.core.presets",
    "SUPPORTED_EXTENSIONS": "tui_detector.core.io.formats",
    "human_size": "tui_detector.core.units",
    "prewarm_tensorflow": "tui_detector.core.env",
    "AnomalyTuiError": "tui_detector.core.errors",
    "is_out_of_memory": "tui_detector.core.errors",
    "TrainingCancelled": "tui_detector.core.model.progress",
    "TrainingProgress": "tui_detector.core.model.progress",
    # Reading a file.
    "LoadReport": "tui_detector.core.io.reader",
    "LoadedTable": "tui_detector.core.io.reader",
    "ReadCancelled": "tui_detector.core.io.reader",
    "ReadError": "tui_detector.core.io.reader",
    "SheetInfo": "tui_detector.core.io.reader",
    "file_sha256": "tui_detector.core.io.reader",
    "list_sheets": "tui_detector.core.io.reader",
    "open_table": "tui_detector.core.io.reader",
    "read_table": "tui_detector.core.io.reader",
    # Column roles and what include/exclude does to one.
    "ColumnProfile": "tui_detector.core.model.roles",
    "Role": "tui_detector.core.model.roles",
    "profile_columns": "tui_detector.core.model.roles",
    "toggle_column": "tui_detector.core.model.roles",
    # File in, scored table out.
    "DetectionRun": "tui_detector.core.pipeline",
    "DetectionSettings": "tui_detector.core.pipeline",
    "TrainedModel": "tui_detector.core.pipeline",
    "cache_inputs_for": "tui_detector.core.pipeline",
    "small_pages": "tui_detector.core.env",
    "guessed_profiles": "tui_detector.core.pipeline",
    "first_look": "tui_detector.core.pipeline",
    "load_source": "tui_detector.core.pipeline",
    "open_source": "tui_detector.core.pipeline",
    "run_detection": "tui_detector.core.pipeline",
    "score_with_baseline": "tui_detector.core.pipeline",
    "size_defaults": "tui_detector.core.pipeline",
    "without_totals": "tui_detector.core.pipeline",
    "TotalsRow": "tui_detector.core.rowchecks",
    "find_totals": "tui_detector.core.rowchecks",
    "small_table_warning": "tui_detector.core.rowchecks",
    "totals_of": "tui_detector.core.rowchecks",
    "ModelCache": "tui_detector.core.cache",
    "data_dir_problem": "tui_detector.core.datadir",
    # Another file scored with this model.
    "SchemaMismatch": "tui_detector.core.baseline",
    "annotate_unseen": "tui_detector.core.baseline",
    # The results table's column filter (pure data: parsed by hand, evaluated on whole columns).
    "FilterError": "tui_detector.core.filter",
    "RowFilter": "tui_detector.core.filter",
    "filter_mask": "tui_detector.core.filter",
    "parse_filter": "tui_detector.core.filter",
    # Writing results.
    "OutputExistsError": "tui_detector.core.atomic",
    "build_export": "tui_detector.core.export",
    "default_export_name": "tui_detector.core.export",
    "explained_anomalies": "tui_detector.core.export",
    "write_export": "tui_detector.core.export",
    "write_scored_copy": "tui_detector.core.scored_copy",
    # The review store: verdicts, suppressions, past runs.
    "ReviewSession": "tui_detector.core.store.session",
    "ReviewStore": "tui_detector.core.store.db",
    "StoreError": "tui_detector.core.store.db",
    "VERDICTS": "tui_detector.core.store.review",
    "get_run": "tui_detector.core.store.review",
    "list_runs": "tui_detector.core.store.review",
    "parse_until": "tui_detector.core.store.review",
    # A language model's triage suggestions (optional: needs httpx and an endpoint).
    "TRIAGE_PROMPT_VERSION": "tui_detector.core.triage.prompt",
    "Suggestion": "tui_detector.core.triage.answer",
    "TriageCache": "tui_detector.core.triage.cache",
    "TriageConfigError": "tui_detector.core.triage.config",
    "TriageUnavailable": "tui_detector.core.triage.client",
    "import_httpx": "tui_detector.core.triage.client",
    "resolve_triage": "tui_detector.core.triage.config",
    "run_triage": "tui_detector.core.triage.runner",
    "triage_context": "tui_detector.core.triage.runner",
    "triage_items": "tui_detector.core.triage.runner",
}

#: Public names that differ from the name in the defining module.
_ALIASES: dict[str, str] = {
    "TRIAGE_PROMPT_VERSION": "PROMPT_VERSION",
    "resolve_triage": "resolve",
    "triage_context": "context_of",
    "triage_items": "build_items",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .atomic import OutputExistsError
    from .baseline import SchemaMismatch, annotate_unseen
    from .cache import ModelCache
    from .datadir import data_dir_problem
    from .env import prewarm_tensorflow, small_pages
    from .filter import FilterError, RowFilter, filter_mask, parse_filter
    from .export import build_export, default_export_name, explained_anomalies, write_export
    from .io.formats import SUPPORTED_EXTENSIONS
    from .errors import AnomalyTuiError, is_out_of_memory
    from .io.reader import (
        LoadedTable,
        LoadReport,
        ReadCancelled,
        ReadError,
        SheetInfo,
        file_sha256,
        list_sheets,
        open_table,
        read_table,
    )
    from .model.progress import TrainingCancelled, TrainingProgress
    from .model.roles import ColumnProfile, Role, profile_columns, toggle_column
    from .pipeline import (
        DetectionRun,
        DetectionSettings,
        TrainedModel,
        cache_inputs_for,
        first_look,
        guessed_profiles,
        load_source,
        open_source,
        run_detection,
        score_with_baseline,
        size_defaults,
        without_totals,
    )
    from .rowchecks import TotalsRow, find_totals, small_table_warning, totals_of
    from .presets import DEFAULT_PERCENTILE, DEFAULT_PRESET, PRESETS, check_percentile, preset_for
    from .scored_copy import write_scored_copy
    from .store.db import ReviewStore, StoreError
    from .store.review import VERDICTS, get_run, list_runs, parse_until
    from .store.session import ReviewSession
    from .triage.answer import Suggestion
    from .triage.cache import TriageCache
    from .triage.client import TriageUnavailable, import_httpx
    from .triage.config import TriageConfigError
    from .triage.config import resolve as resolve_triage
    from .triage.prompt import PROMPT_VERSION as TRIAGE_PROMPT_VERSION
    from .triage.runner import build_items as triage_items
    from .triage.runner import context_of as triage_context
    from .triage.runner import run_triage
    from .units import human_size


def __getattr__(name: str) -> Any:
    # Not cached in globals(): a test that patches the defining module is seen here too.
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tui_detector.core' has no attribute {name!r}")
    return getattr(importlib.import_module(module), _ALIASES.get(name, name))


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
