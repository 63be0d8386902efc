"""The model directory: ``manifest.json`` plus ``.npz`` arrays, each listed with its sha256.

Data only (no pickle), so loading a model can never run code. The format (manifest keys, file
and array names, ``MODEL_FORMAT_VERSION``) is a promise to saved models and the cache: a change
needs a new version number.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import write_directory
from ..errors import AnomalyTuiError
from .network import DenseNetwork
from .preprocess import TabularPreprocessor
from .threshold import QUANTILE_GRID

MODEL_FORMAT = "anomaly-tui-model"
MODEL_FORMAT_VERSION = 9
#: Versions this one reads. Version 2 models learned a date's place in time and an entity's raw
#: shares; their encoder states say so, and they are scored as they were trained. Version 4 may
#: hold the scored table's results (``scores.npz``), which an older reader would call damaged.
#: Version 5 adds the relations between numbers (``relation_*``, empty on most tables) and the
#: kinds of row on which a number is constant (``mode_constant``) to ``ensemble.npz``, which an
#: older reader would ignore and score differently; a model of an earlier version has neither,
#: as it was trained.
#: Version 6 adds each column's error-tail steepness (``error_steepness``), which an older
#: reader would ignore and score against a threshold set with it; a model of an earlier version
#: extrapolates every tail as 1/error, as it was trained.
#: Version 7 adds the loose relations, which speak only past their kind's partner range
#: (``relation_beyond``, one flag per relation), which an older reader would take for exact ones;
#: a model of an earlier version holds exact ones only, as it was trained.
#: Version 8 adds whether each relation's curve is in the cells' own units rather than the
#: model's (``relation_own_units``, one flag per relation), which an older reader would apply
#: to the model's units and get wrong; a model of an earlier version fitted every curve in the
#: model's units, as it was trained.
#: Version 9 adds whether each loose relation speaks inside its kind's partner range too
#: (``relation_inside``, one flag per relation), and whether an exact line in the cells' own
#: units is continued past it for a row another kind's price fits (``relation_continues``),
#: which an older reader would ignore and score against error tails measured with them; a model
#: of an earlier version has neither, as it was trained.
READABLE_FORMAT_VERSIONS = (2, 3, 4, 5, 6, 7, 8, 9)
MANIFEST = "manifest.json"
#: Array files a model directory may hold (each listed with its sha256 in the manifest).
MODEL_FILES = ("network.npz", "forest.npz", "ensemble.npz", "scores.npz")
MODEL_KINDS = ("auto", "autoencoder", "iforest")


class ModelFileError(AnomalyTuiError, ValueError):
    """A saved model directory is missing, damaged, tampered with or from another format."""


def _package_version() -> str:
    try:
        from importlib.metadata import version  # noqa: PLC0415 - only when a model is saved

        return version("anomaly-tui")
    except Exception:  # noqa: BLE001 - running from a source tree without metadata
        return "0+unknown"


def write_model(directory: str | os.PathLike[str], manifest: dict[str, Any], arrays: dict[str, bytes | memoryview]) -> Path:
    """Write the arrays and the manifest (with their checksums added under ``files``).

    The directory is written beside its final place and renamed into it, so a reader never
    sees half a model.
    """
    manifest = {**manifest, "files": {name: hashlib.sha256(data).hexdigest() for name, data in arrays.items()}}
    text = json.dumps(manifest, indent=1, allow_nan=False, ensure_ascii=False)
    return write_directory(directory, {**arrays, MANIFEST: text.encode("utf-8")})


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the model at ``path``, after checking its format and every file's checksum.

    Raises:
        ModelFileError: with a one-line reason.
    """
    try:
        raw = (path / MANIFEST).read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{path} is not a saved model (no {MANIFEST})") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read {path / MANIFEST}: {exc.strerror or exc}") from None
    try:
        manifest = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ModelFileError(f"{path / MANIFEST} is damaged (not valid JSON)") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"{path} does not hold an anomaly-tui model")
    if manifest.get("format_version") not in READABLE_FORMAT_VERSIONS:
        raise ModelFileError(
            f"{path} holds a model in format version {manifest.get('format_version')!r}; "
            f"this version of anomaly-tui reads version {MODEL_FORMAT_VERSION}"
        )
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise ModelFileError(f"{path / MANIFEST} lists no model files")
    for name, digest in files.items():
        if name not in MODEL_FILES:
            raise ModelFileError(f"{path / MANIFEST} names an unexpected file {name!r}")
        try:
            actual = hashlib.sha256((path / name).read_bytes()).hexdigest()
        except OSError:
            raise ModelFileError(f"{path / name} is missing") from None
        if actual != digest:
            raise ModelFileError(f"{path / name} does not match its checksum (damaged or modified)")
    return manifest


def read_network(path: Path, manifest: dict[str, Any], n_features: int) -> DenseNetwork:
    info = manifest["network"]
    network = DenseNetwork.from_npz(path / "network.npz", list(info["activations"]))
    if network.n_inputs != n_features or network.shape[-1] != n_features:
        raise ModelFileError(f"{path}: the network does not fit the table's {n_features} features")
    return network


def check_common(path: Path, manifest: dict[str, Any], preprocessor: TabularPreprocessor) -> None:
    """The arrays every kind keeps in the manifest: sizes and finiteness.

    Raises:
        ModelFileError: they do not fit the table or are not finite.
    """
    n_features = preprocessor.n_features
    means = np.asarray(manifest["feature_means"], dtype=np.float64)
    residual_scale = np.asarray(manifest["residual_scale"], dtype=np.float64)
    if residual_scale.shape != (n_features,) or not np.all(residual_scale > 0):
        raise ModelFileError(f"{path}: the manifest's residual scales are invalid")
    quantiles = np.asarray(manifest["score_quantiles"], dtype=np.float64)
    if means.shape != (n_features,) or quantiles.shape != QUANTILE_GRID.shape:
        raise ModelFileError(f"{path}: the manifest's arrays have the wrong size")
    manifest["input_clip"]  # every kind records it (None but for "auto")
    threshold = float(manifest["threshold"])
    if not math.isfinite(threshold) or not np.all(np.isfinite(quantiles)):
        raise ModelFileError(f"{path}: the threshold is not a finite number")
