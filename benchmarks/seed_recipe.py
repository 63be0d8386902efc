"""The design note's recipe exactly as written, for comparison only (not used by the product).

Numeric/categorical detection by dtype, label encoding of every non-numeric column (dates, IDs and
free text included), mean imputation, StandardScaler on the numeric columns, a Keras Sequential
Dense 64-32-8-32-64 autoencoder trained with ``Model.fit`` (MSE, Adam, 50 epochs, batch 32,
validation_split 0.2); score = reconstruction MSE; top 3 features by squared error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def seed_recipe(frame: pd.DataFrame, *, epochs: int = 50, batch_size: int = 32, seed: int = 0):
    """Fit the seed recipe on ``frame``; returns (scores per row, top-3 column names per row)."""
    from sklearn.preprocessing import LabelEncoder, StandardScaler

    from tui_detector.core.model._keras import import_keras

    keras = import_keras()
    data = pd.DataFrame(index=frame.index)
    numeric = []
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            data[column] = series.astype(float).fillna(series.astype(float).mean())
            numeric.append(column)
        else:
            data[column] = LabelEncoder().fit_transform(series.astype(str)).astype(float)
    if numeric:
        data[numeric] = StandardScaler().fit_transform(data[numeric])
    x = data.to_numpy(dtype="float32")
    keras.utils.set_random_seed(seed)
    n = x.shape[1]
    model = keras.Sequential(
        [
            keras.Input((n,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(n, activation="linear"),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, x, epochs=epochs, batch_size=batch_size, validation_split=0.2, shuffle=True, verbose=0)
    errors = (x - model.predict(x, verbose=0)) ** 2
    top = np.argsort(-errors, axis=1)[:, :3]
    columns = list(frame.columns)
    return errors.mean(axis=1), [[columns[j] for j in row] for row in top]
