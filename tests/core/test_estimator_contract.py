"""scikit-learn's estimator contract: parameters untouched, fitted state in ``*_`` attributes,
``clone()``, and the estimator checks that apply to a detector of tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from tui_detector.core.model.detector import TabularAnomalyDetector
from tui_detector.core.model.threshold import Threshold


class ArrayInput(TabularAnomalyDetector):
    """The detector fed arrays the way the checks feed them: each becomes a DataFrame with
    columns x0, x1, ... (the detector itself takes tables)."""

    def fit(self, X, y=None, **kwargs):  # noqa: ANN001, ANN201, N803
        return super().fit(_frame(X), y, **kwargs)

    def score_samples(self, X):  # noqa: ANN001, ANN201, N803
        return super().score_samples(_frame(X))


class TinyAuto(ArrayInput):
    """"auto" with two epochs, so the checks' many fits stay affordable."""

    def fit(self, X, y=None, **kwargs):  # noqa: ANN001, ANN201, N803
        return super().fit(X, y, epochs=2, **kwargs)


def _frame(X) -> pd.DataFrame:  # noqa: ANN001, N803
    if isinstance(X, pd.DataFrame):
        return X
    X = np.asarray(X)  # noqa: N806
    if X.ndim != 2:
        raise ValueError("Expected 2D array, got 1D array instead: reshape your data")
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])


#: The checks that do not apply, by name, with the reason.
SKIPPED = {
    "check_complex_data": "cells are read as a spreadsheet's: a complex value is text, not refused",
    "check_dtype_object": "object columns (text, categories) are the detector's ordinary input",
    "check_estimators_empty_data_messages": "a table with no usable column gets its own message in words",
    "check_estimator_sparse_tag": "tables are dense DataFrames; a sparse matrix is not a table",
    "check_estimator_sparse_array": "tables are dense DataFrames; a sparse matrix is not a table",
    "check_estimator_sparse_matrix": "tables are dense DataFrames; a sparse matrix is not a table",
    "check_fit2d_1sample": "one row gets its own message in words ('at least 2 rows are needed ...')",
}


def _skipped(estimator: TabularAnomalyDetector) -> dict[str, str]:
    return SKIPPED


@parametrize_with_checks([ArrayInput(model="iforest")], expected_failed_checks=_skipped)
def test_estimator_checks_iforest(estimator, check):
    check(estimator)


@pytest.mark.slow
@parametrize_with_checks([TinyAuto(hidden_layers=(8,), encoding_dim=2)], expected_failed_checks=_skipped)
def test_estimator_checks_tiny_auto(estimator, check):
    check(estimator)


def test_clone_gives_an_unfitted_detector_with_the_same_parameters(fitted):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not [name for name in vars(copy) if name.endswith("_")]


def test_training_and_scoring_leave_parameters_and_fitted_state_alone(planted):
    frame, _ = planted
    roles = {"comment": "text"}
    detector = TabularAnomalyDetector(model="iforest", roles=roles, threshold_percentile=90)
    before = detector.get_params()
    detector.fit(frame)
    assert detector.get_params() == before and detector.roles is roles
    state = dict(vars(detector))
    detector.detect(frame, threshold=detector.threshold_for(99))
    detector.detect_anomalies(frame)
    assert vars(detector).keys() == state.keys()
    assert all(vars(detector)[k] is v for k, v in state.items())


def test_the_threshold_is_a_choice_made_when_scoring(fitted, planted):
    frame, _ = planted
    at_95 = fitted.detect(frame)
    assert at_95.cut == Threshold(95.0, fitted.threshold_)
    at_80 = at_95.with_threshold(fitted.threshold_for(80))
    assert at_80.cut.percentile == 80 and at_80.flags.sum() > at_95.flags.sum()
    assert at_80.scores is at_95.scores and at_95.cut.percentile == 95
    with pytest.raises(ValueError, match="between 0 and 100"):
        fitted.threshold_for(100)
