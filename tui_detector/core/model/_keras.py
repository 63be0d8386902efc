"""The one module that imports Keras: builds and trains the autoencoder.

Imported only inside the functions that train, so ``import tui_detector`` stays fast and works
without TensorFlow.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from .network import DenseNetwork
from .progress import ProgressCallback, StopCallback
from .training import EarlyStopping, EpochLoop, TrainSettings, split_validation

_import_lock = threading.Lock()
_keras: Any = None

@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the duration.

    TensorFlow's C++ runtime logs through absl straight to fd 2 while its shared libraries load
    ("All log messages before absl::InitializeLog() ...", CUDA probing), before any Python or
    environment setting can reach it.
    """
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError, OSError):
        pass
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_keras() -> Any:
    """Keras on the TensorFlow backend, imported once, with nothing printed to the terminal."""
    global _keras
    with _import_lock:
        if _keras is None:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
            # oneDNN reorders float sums between runs; off, the same seed gives the same model.
            os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
            os.environ.setdefault("KERAS_BACKEND", "tensorflow")
            with _native_stderr_silenced():
                import keras  # noqa: PLC0415
                import tensorflow as tf  # noqa: PLC0415

                tf.get_logger().setLevel("ERROR")
                try:
                    tf.config.set_visible_devices([], "GPU")
                except (RuntimeError, ValueError):
                    pass
            _keras = keras
    return _keras


def build_autoencoder(n_inputs: int, hidden: tuple[int, ...], encoding_dim: int) -> Any:
    """The seed's shape: Input(n) → hidden… → latent → reversed hidden… → Output(n)."""
    keras = import_keras()
    inputs = keras.Input(shape=(n_inputs,), name="row")
    h = inputs
    for i, width in enumerate(hidden):
        h = keras.layers.Dense(width, activation="relu", name=f"encoder_{i}")(h)
    h = keras.layers.Dense(encoding_dim, activation="relu", name="latent")(h)
    for i, width in enumerate(reversed(hidden)):
        h = keras.layers.Dense(width, activation="relu", name=f"decoder_{i}")(h)
    outputs = keras.layers.Dense(n_inputs, activation="linear", name="reconstruction")(h)
    return keras.Model(inputs, outputs, name="tabular_autoencoder")


def train_autoencoder(
    x: np.ndarray,
    settings: TrainSettings,
    *,
    input_clip: float | None = None,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
) -> tuple[DenseNetwork, dict[str, list[float]]]:
    """Train on rows of ``x`` to reconstruct themselves; the fitted network as plain arrays.

    With ``input_clip`` the network learns from rows winsorised to ``±input_clip``: a few
    extreme cells neither dominate the loss nor get memorised, and at scoring time (done by the
    caller against the real row) an extreme cell shows as a large residual.

    A compiled step per batch in a plain loop instead of ``Model.fit``: on two CPU cores ``fit``
    spends 2-8 ms per step on bookkeeping for a network this small (the step itself is <1 ms),
    and the loop checks ``should_stop`` after every batch without relying on callbacks.

    Raises:
        TrainingCancelled: ``should_stop`` returned true; checked after every batch.
        FloatingPointError: the loss became NaN or infinite.
    """
    keras = import_keras()
    import tensorflow as tf  # noqa: PLC0415 - already loaded by import_keras

    keras.utils.set_random_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    data = np.ascontiguousarray(x[rng.permutation(x.shape[0])], dtype=np.float32)
    if input_clip:
        data = np.clip(data, -input_clip, input_clip)
    train, val = split_validation(data, settings.validation_split)
    batch_size = max(1, min(int(settings.batch_size), train.shape[0]))

    model = build_autoencoder(x.shape[1], settings.hidden, settings.encoding_dim)
    optimizer = keras.optimizers.Adam(learning_rate=settings.learning_rate)
    spec = [tf.TensorSpec(shape=(None, x.shape[1]), dtype=tf.float32)]

    @tf.function(input_signature=spec, reduce_retracing=True)
    def step(batch: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(batch, training=True) - batch))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function(input_signature=spec, reduce_retracing=True)
    def evaluate(rows: Any) -> Any:
        return tf.reduce_mean(tf.square(model(rows, training=False) - rows))

    history: dict[str, list[float]] = {"loss": []}
    if val is not None:
        history["val_loss"] = []
    stopping = EarlyStopping(settings.patience)
    best_weights: list[np.ndarray] | None = None
    loop = EpochLoop(
        epochs=settings.epochs,
        batches=math.ceil(train.shape[0] / batch_size),
        on_progress=on_progress,
        should_stop=should_stop,
    )
    for epoch in range(settings.epochs):
        epoch_loss = loop.run_epoch(epoch, train, batch_size, rng, lambda rows: float(step(rows)))
        monitored = loop.end_epoch(epoch, history, epoch_loss, None if val is None else float(evaluate(val)))
        if settings.patience is None:
            continue
        if stopping.improved(monitored):
            best_weights = model.get_weights()
        elif stopping.exhausted:
            break
    if best_weights is not None:
        model.set_weights(best_weights)

    weights, biases, activations = [], [], []
    for layer in model.layers[1:]:
        w, b = layer.get_weights()
        weights.append(np.array(w, dtype=np.float32))
        biases.append(np.array(b, dtype=np.float32))
        activations.append("linear" if layer.name == "reconstruction" else "relu")
    return DenseNetwork(weights, biases, activations), history
