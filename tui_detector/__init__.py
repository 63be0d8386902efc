"""anomaly-tui: find the strange rows in a spreadsheet and explain why they are strange.

The seed's API is importable from here::

    from tui_detector import TabularAnomalyDetector, detect_anomalies_in_excel, TF_AVAILABLE

Importing the package loads neither Textual nor TensorFlow; the detector imports TensorFlow only
when it trains a network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .core.env import tensorflow_available as _tensorflow_available

__version__ = "0.1.0"

#: Whether TensorFlow can be imported here; without it the detector uses IsolationForest.
TF_AVAILABLE: bool = _tensorflow_available()

__all__ = [
    "TF_AVAILABLE",
    "ModelFileError",
    "TabularAnomalyDetector",
    "TrainingCancelled",
    "TrainingProgress",
    "__version__",
    "detect_anomalies_in_excel",
]

if TYPE_CHECKING:
    from .core.model.detector import ModelFileError, TabularAnomalyDetector, detect_anomalies_in_excel
    from .core.model.progress import TrainingCancelled, TrainingProgress


def __getattr__(name: str) -> Any:
    # pandas and scikit-learn load on first use, so `anomaly-tui --help` stays instant.
    if name in ("TabularAnomalyDetector", "detect_anomalies_in_excel", "ModelFileError"):
        from .core.model import detector

        return getattr(detector, name)
    if name in ("TrainingCancelled", "TrainingProgress"):
        from .core.model import progress

        return getattr(progress, name)
    raise AttributeError(f"module 'tui_detector' has no attribute {name!r}")
