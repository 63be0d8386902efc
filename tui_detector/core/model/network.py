"""A trained dense network as plain arrays, and its forward pass in NumPy.

Scoring never needs TensorFlow: the network is small, so a NumPy forward pass scores a million
rows in about a second, and a cached model loads without the ~5 s TensorFlow import. Scoring the
training table the same way also makes scores identical before and after a save/load round trip.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .progress import ProgressCallback, StopCallback
from .training import EarlyStopping, EpochLoop, TrainSettings, split_validation

ACTIVATIONS = ("relu", "linear")


@dataclass
class DenseNetwork:
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    activations: list[str]

    def __post_init__(self) -> None:
        if not (len(self.weights) == len(self.biases) == len(self.activations)) or not self.weights:
            raise ValueError("network layers are inconsistent")
        width = self.weights[0].shape[0]
        for w, b, act in zip(self.weights, self.biases, self.activations, strict=True):
            if w.ndim != 2 or b.shape != (w.shape[1],) or w.shape[0] != width:
                raise ValueError("network layer shapes do not chain")
            if act not in ACTIVATIONS:
                raise ValueError(f"unknown activation {act!r}")
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
                raise ValueError("network weights are not finite")
            width = w.shape[1]

    @property
    def n_inputs(self) -> int:
        return int(self.weights[0].shape[0])

    @property
    def shape(self) -> list[int]:
        return [self.n_inputs, *(int(w.shape[1]) for w in self.weights)]

    def forward(self, x: np.ndarray, chunk: int = 65_536) -> np.ndarray:
        """The network's output for each row of ``x``, computed in float64 and in chunks."""
        out = np.empty((x.shape[0], self.weights[-1].shape[1]), dtype=np.float64)
        for start in range(0, x.shape[0], chunk):
            h = np.asarray(x[start : start + chunk], dtype=np.float64)
            for w, b, act in zip(self.weights, self.biases, self.activations, strict=True):
                h = h @ w.astype(np.float64) + b.astype(np.float64)
                if act == "relu":
                    np.maximum(h, 0.0, out=h)
            out[start : start + chunk] = h
        return out

    def masked_reconstruction(
        self, x: np.ndarray, blocks: list[tuple[int, int]], chunk: int = 16_384, wanted: np.ndarray | None = None
    ) -> np.ndarray:
        """Each column's block as the network restores it with that column blanked (set to 0).

        The expected value of a cell then comes from the rest of its row only, not from the cell.
        ``wanted`` (rows x blocks, bool) restores each block only on the rows marked for it; the
        other cells of the result are 0.
        """
        # float32, as the network was trained and is stored: twice the speed of float64, and the
        # same function scores a table during training, later, and after a save/load.
        weights = [w.astype(np.float32) for w in self.weights]
        biases = [b.astype(np.float32) for b in self.biases]
        if wanted is not None:
            out = np.zeros((x.shape[0], self.weights[-1].shape[1]), dtype=np.float64)
            x32 = np.asarray(x, dtype=np.float32)
            for b, (lo, hi) in enumerate(blocks):
                rows = np.flatnonzero(wanted[:, b])
                if rows.size:
                    subset = x32[rows]
                    out[rows, lo:hi] = self._restore(subset, subset @ weights[0] + biases[0], lo, hi, weights, biases)
            return out
        out = np.empty((x.shape[0], self.weights[-1].shape[1]), dtype=np.float64)
        for start in range(0, x.shape[0], chunk):
            rows = np.asarray(x[start : start + chunk], dtype=np.float32)
            # Blanking a block only removes its share of the first layer's input.
            first = rows @ weights[0] + biases[0]
            # A block already 0 on a row (a "no" flag, an unused slot) is blanked already: there
            # the network's plain output is the answer. A wide table of flags is mostly such
            # cells, and restoring only the other rows makes its cost follow the filled cells.
            # The plain output costs about one block's restore itself, so the shortcut is taken
            # only for blocks blank on at least half the rows, and only when together they
            # spare more than two restores of the whole chunk (a narrow table: never).
            target = out[start : start + chunk]
            filled_rows = _filled(rows, blocks)
            blank = rows.shape[0] - np.count_nonzero(filled_rows, axis=0)
            sparse = blank * 2 >= rows.shape[0]
            plain = None
            if blank[sparse].sum() > 2 * rows.shape[0]:
                plain = self._restore(rows, first, 0, 0, weights, biases, whole=True)
            for b, (lo, hi) in enumerate(blocks):
                if plain is None or not sparse[b]:
                    target[:, lo:hi] = self._restore(rows, first, lo, hi, weights, biases)
                    continue
                target[:, lo:hi] = plain[:, lo:hi]
                picked = np.flatnonzero(filled_rows[:, b])
                if picked.size:
                    target[picked, lo:hi] = self._restore(rows[picked], first[picked], lo, hi, weights, biases)
        return out

    def _restore(
        self,
        rows: np.ndarray,
        first: np.ndarray,
        lo: int,
        hi: int,
        weights: list[np.ndarray],
        biases: list[np.ndarray],
        whole: bool = False,
    ) -> np.ndarray:
        """Block ``lo:hi`` restored with it blanked, from the first layer's full input ``first``
        (``whole``: every output, nothing blanked)."""
        h = first.copy() if whole else first - rows[:, lo:hi] @ weights[0][lo:hi]
        last = len(weights) - 1
        for i, (w, b, act) in enumerate(zip(weights, biases, self.activations, strict=True)):
            if i == last and whole:
                h = h @ w + b
            elif i == last:
                # Only this block's outputs are kept: compute just those columns (the output
                # layer is the widest, and there is one pass per column).
                h = h @ w[:, lo:hi] + b[lo:hi]
            elif i:
                h = h @ w + b
            if act == "relu":
                np.maximum(h, 0.0, out=h)
        return h

    def to_npz_bytes(self) -> bytes:
        buffer = io.BytesIO()
        arrays = {}
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            arrays[f"w{i}"] = w.astype(np.float32)
            arrays[f"b{i}"] = b.astype(np.float32)
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_npz(cls, path: Path, activations: list[str]) -> DenseNetwork:
        try:
            with np.load(path, allow_pickle=False) as data:
                weights = [np.array(data[f"w{i}"]) for i in range(len(activations))]
                biases = [np.array(data[f"b{i}"]) for i in range(len(activations))]
        except (KeyError, ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(f"network weights are unreadable ({exc})") from None
        return cls(weights, biases, list(activations))


def _filled(rows: np.ndarray, blocks: list[tuple[int, int]]) -> np.ndarray:
    """(rows x blocks) whether each block holds a non-zero input on each row."""
    nonzero = rows != 0.0
    starts = [lo for lo, _ in blocks]
    if blocks and all(hi == following for (_, hi), following in zip(blocks, [*starts[1:], rows.shape[1]], strict=True)):
        # Blocks that tile the row (as the encoder lays columns out): one pass for all of them.
        return np.add.reduceat(nonzero, starts, axis=1) > 0
    return np.stack([nonzero[:, lo:hi].any(axis=1) for lo, hi in blocks], axis=1) if blocks else nonzero[:, :0]


# -- training in NumPy -----------------------------------------------------------------------


def _glorot(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)


def train_numpy_autoencoder(
    x: np.ndarray,
    settings: TrainSettings,
    *,
    on_progress: ProgressCallback | None = None,
    should_stop: StopCallback | None = None,
    refine: Callable[[DenseNetwork], np.ndarray] | None = None,
    mask_blocks: list[tuple[int, int]] | None = None,
    mask_rate: float = 0.0,
) -> tuple[DenseNetwork, dict[str, list[float]]]:
    """The seed's network (ReLU hidden layers, linear output, MSE, Adam) trained in NumPy.

    Same architecture, initialisation (Glorot uniform, zero biases), loss and optimiser as the
    Keras model in ``_keras.py``, without TensorFlow: on two CPU cores a step of a network this
    small costs ~0.1 ms here against ~1 ms per compiled Keras step, and there is no 5 s import or
    graph tracing. Deterministic for a seed. ``should_stop`` is asked after every batch.

    With ``refine``, training runs in two halves: after the first (or when it stops early),
    ``refine`` gets the network and returns which rows of ``x`` look normal (a bool mask), and
    the second half trains a fresh network on those rows only. A table's own anomalies are in
    its training data; a network that never saw the rows most likely to be anomalies
    reconstructs them worse, so they stand out more (trimmed training).

    With ``mask_blocks`` (each column's feature range) and ``mask_rate``, every training row
    has each column blanked (set to 0, its mean) with that probability and the network learns
    to restore the row: it must predict a column from the others, which is what shows a value
    that does not fit the rest of its row (see ``masked_reconstruction``).

    Raises:
        TrainingCancelled: ``should_stop`` returned true.
        FloatingPointError: the loss became NaN or infinite.
    """
    # epochs and batch_size change when the second half trains on fewer rows.
    epochs, batch_size, seed, patience = settings.epochs, settings.batch_size, settings.seed, settings.patience
    hidden, learning_rate = settings.hidden, settings.learning_rate
    rng = np.random.default_rng(seed)
    block_of: np.ndarray | None = None
    if mask_blocks and mask_rate > 0:
        block_of = np.zeros(x.shape[1], dtype=np.int64)
        for b, (lo, hi) in enumerate(mask_blocks):
            block_of[lo:hi] = b

    def masked(rows: np.ndarray, generator: np.random.Generator) -> np.ndarray:
        if block_of is None:
            return rows
        assert mask_blocks is not None
        drop = generator.random((rows.shape[0], len(mask_blocks))) < mask_rate
        return np.where(drop[:, block_of], np.float32(0.0), rows)

    perm = rng.permutation(x.shape[0])
    data = np.ascontiguousarray(x[perm], dtype=np.float32)
    train, val = split_validation(data, settings.validation_split)
    n_val = 0 if val is None else val.shape[0]
    batch_size = max(1, min(int(batch_size), train.shape[0]))
    widths = [x.shape[1], *hidden, settings.encoding_dim, *reversed(hidden), x.shape[1]]
    n_layers = len(widths) - 1
    beta1, beta2, eps = 0.9, 0.999, 1e-7
    weights: list[np.ndarray] = []
    biases: list[np.ndarray] = []
    params: list[np.ndarray] = []
    m: list[np.ndarray] = []
    v: list[np.ndarray] = []
    t = 0

    def initialise() -> None:
        nonlocal t
        weights[:] = [_glorot(rng, a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)]
        biases[:] = [np.zeros(b, dtype=np.float32) for b in widths[1:]]
        params[:] = [p for pair in zip(weights, biases, strict=True) for p in pair]
        m[:] = [np.zeros_like(p) for p in params]
        v[:] = [np.zeros_like(p) for p in params]
        t = 0

    def network() -> DenseNetwork:
        activations = ["relu"] * (n_layers - 1) + ["linear"]
        return DenseNetwork([w.copy() for w in weights], [b.copy() for b in biases], activations)

    initialise()
    # The epoch at which the second half starts when refining (early stopping may come first).
    phase_end = math.ceil(epochs / 2) if refine is not None and epochs >= 2 else epochs
    refined = refine is None or epochs < 2

    def forward(rows: np.ndarray) -> list[np.ndarray]:
        acts = [rows]
        h = rows
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            h = h @ w + b
            if i < n_layers - 1:
                np.maximum(h, 0.0, out=h)
            acts.append(h)
        return acts

    def val_loss_of(rows: np.ndarray) -> float:
        # The same blanks every epoch, so the validation loss moves only with the network.
        return float(np.mean((forward(masked(rows, np.random.default_rng(seed + 1)))[-1] - rows) ** 2))

    grads: list[np.ndarray] = [np.empty_like(p) for p in params]

    def step(rows: np.ndarray) -> float:
        nonlocal t
        acts = forward(masked(rows, rng))
        diff = acts[-1] - rows
        loss = float(np.mean(diff * diff))
        g = diff * np.float32(2.0 / diff.size)
        for i in range(n_layers - 1, -1, -1):
            grads[2 * i] = acts[i].T @ g
            grads[2 * i + 1] = g.sum(axis=0)
            if i:
                g = g @ weights[i].T
                g *= acts[i] > 0
        t += 1
        lr_t = learning_rate * math.sqrt(1 - beta2**t) / (1 - beta1**t)
        for p, gp, mp, vp in zip(params, grads, m, v, strict=True):
            mp *= beta1
            mp += (1 - beta1) * gp
            vp *= beta2
            vp += (1 - beta2) * gp * gp
            p -= lr_t * mp / (np.sqrt(vp) + eps)
        return loss

    history: dict[str, list[float]] = {"loss": []}
    if val is not None:
        history["val_loss"] = []
    stopping = EarlyStopping(patience)
    best_params: list[np.ndarray] | None = None
    loop = EpochLoop(
        epochs=epochs, batches=math.ceil(train.shape[0] / batch_size), on_progress=on_progress, should_stop=should_stop
    )

    epoch = -1
    while epoch + 1 < epochs:
        epoch += 1
        epoch_loss = loop.run_epoch(epoch, train, batch_size, rng, step)
        monitored = loop.end_epoch(epoch, history, epoch_loss, None if val is None else val_loss_of(val))
        stop = False
        if patience is not None:
            if stopping.improved(monitored):
                best_params = [p.copy() for p in params]
            stop = stopping.exhausted
        if not stop and epoch + 1 < phase_end:
            continue
        if best_params is not None:
            for p, saved in zip(params, best_params, strict=True):
                p[...] = saved
        if refined:
            break
        # Second half: a fresh network on the rows that look normal to the first one.
        assert refine is not None
        keep = np.asarray(refine(network()), dtype=bool)[perm]
        train_keep = keep[: data.shape[0] - n_val] if n_val else keep
        if int(train_keep.sum()) >= 2:
            train = train[train_keep]
            if val is not None:
                val_keep = keep[data.shape[0] - n_val :]
                val = val[val_keep] if int(val_keep.sum()) else None
                if val is None:
                    history.pop("val_loss", None)
            batch_size = max(1, min(int(batch_size), train.shape[0]))
            loop.batches = math.ceil(train.shape[0] / batch_size)
        refined = True
        phase_end = epochs
        initialise()
        best_params = None
        stopping.reset()
        # The second half gets its own share of epochs, also after an early stop in the first.
        epochs = epoch + 1 + (epochs - math.ceil(epochs / 2))
        loop.epochs = epochs
    return network(), history
