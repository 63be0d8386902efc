"""IsolationForest as plain arrays: fitted by scikit-learn, scored and stored without pickle.

scikit-learn models are normally persisted with pickle, which can run code on load. The fitted
trees are just arrays, so they are saved in an ``.npz`` (``allow_pickle=False``) and scored here
with the same formula scikit-learn uses (Liu et al. 2008: ``2 ** (-E[h(x)] / c(psi))``).
"""

from __future__ import annotations

import io
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .network import DenseNetwork
from .persist import ModelFileError
from .preprocess import TabularPreprocessor
from .progress import RowsCallback, StopCallback
from .scorer import BlockScorer, FitHooks, FitPlan, Fitted
from .training import check_cancel

_EULER = 0.5772156649015329
_warming: threading.Thread | None = None
_warming_lock = threading.Lock()
_compiled_lock = threading.Lock()


def _import_forest() -> None:
    try:
        import sklearn.ensemble  # noqa: F401, PLC0415
    except Exception:  # noqa: BLE001 - the fit imports it again and reports what is wrong
        pass


def prepare_fit() -> None:
    """Start importing scikit-learn's IsolationForest in the background, once.

    The import takes 1-1.5 s here (scikit-learn pulls in scipy.stats), all of it on the way to
    the first fit. Started when a file is being read (which mostly waits on the parser and on
    zip inflation, or on a reader process), it runs on the other core meanwhile; the fit then
    finds the module imported, or waits on the import lock for the rest of it. Nothing in
    scikit-learn's import needs a module our code could be importing at the same time, so the
    two threads cannot wait on each other.
    """
    global _warming  # noqa: PLW0603 - one import per process
    with _warming_lock:
        if _warming is None:
            _warming = threading.Thread(target=_import_forest, name="anomaly-tui-import", daemon=True)
            _warming.start()


def average_path_length(n: np.ndarray) -> np.ndarray:
    """c(n): the mean path length of an unsuccessful search in a binary search tree of n nodes."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    two = n == 2
    big = n > 2
    out[two] = 1.0
    out[big] = 2.0 * (np.log(n[big] - 1.0) + _EULER) - 2.0 * (n[big] - 1.0) / n[big]
    return out


@dataclass
class ForestArrays:
    """Every tree of a fitted IsolationForest flattened into equal-length arrays."""

    left: np.ndarray  # (trees, nodes) int32, -1 at leaves
    right: np.ndarray
    feature: np.ndarray  # int32
    threshold: np.ndarray  # float64
    leaf_length: np.ndarray  # float64: depth of the node + c(samples in it), used at leaves
    max_samples: int
    max_depth: int
    #: scikit-learn trees rebuilt from the arrays for scoring ([]: they cannot be)
    _trees: list[Any] | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def fit(cls, x: np.ndarray, *, n_estimators: int = 200, seed: int = 0) -> ForestArrays:
        from sklearn.ensemble import IsolationForest  # noqa: PLC0415

        forest = IsolationForest(n_estimators=n_estimators, random_state=seed).fit(x)
        trees = [est.tree_ for est in forest.estimators_]
        width = max(t.node_count for t in trees)
        shape = (len(trees), width)
        left = np.full(shape, -1, dtype=np.int32)
        right = np.full(shape, -1, dtype=np.int32)
        feature = np.zeros(shape, dtype=np.int32)
        threshold = np.zeros(shape, dtype=np.float64)
        leaf_length = np.zeros(shape, dtype=np.float64)
        max_depth = 0
        for i, (tree, features) in enumerate(zip(trees, forest.estimators_features_, strict=True)):
            n = tree.node_count
            left[i, :n] = tree.children_left
            right[i, :n] = tree.children_right
            # Map a tree's feature index through the forest's feature subsample to a column of x.
            feature[i, :n] = np.asarray(features)[np.maximum(tree.feature, 0)]
            threshold[i, :n] = tree.threshold
            depth = np.zeros(n, dtype=np.float64)
            frontier = np.array([0])
            while frontier.size:  # level by level from the root
                children = np.concatenate([tree.children_left[frontier], tree.children_right[frontier]])
                parents = np.concatenate([frontier, frontier])
                inner = children != -1
                depth[children[inner]] = depth[parents[inner]] + 1
                frontier = children[inner]
            leaf_length[i, :n] = depth + average_path_length(tree.n_node_samples)
            max_depth = max(max_depth, int(depth.max()))
        return cls(left, right, feature, threshold, leaf_length, int(forest.max_samples_), max_depth)

    def score(self, x: np.ndarray, chunk: int = 8_192) -> np.ndarray:
        """Anomaly score in (0, 1]; higher = easier to isolate = more anomalous.

        The rows are compared in float32, as scikit-learn fitted and scores its trees (its
        thresholds lie between float32 values). Each tree is walked by scikit-learn's compiled
        ``Tree.apply`` (rebuilt from these arrays, never unpickled: :meth:`_compiled`), which
        takes about half the time of the NumPy walk below and lets go of the interpreter, so
        the scoring threads run side by side; where that cannot be built, the NumPy walk gives
        the same leaves.
        """
        x = np.ascontiguousarray(x, dtype=np.float32)
        denominator = self.left.shape[0] * float(average_path_length(np.array([self.max_samples]))[0])
        trees = self._compiled()
        total = np.zeros(x.shape[0])
        inner = self.left != -1
        if inner.any() and self.feature[inner].max() >= x.shape[1]:
            raise ValueError(f"the forest splits on columns outside the {x.shape[1]} it is given")
        if trees is not None:
            for t, tree in enumerate(trees):
                total += self.leaf_length[t].take(tree.apply(x))
        else:
            # One flat child table per tree, [right, left] per node, leaves pointing at
            # themselves: a level is then one lookup, and rows that reached a leaf stay there.
            n_trees, nodes = self.left.shape
            own = np.arange(nodes)
            children = np.empty((n_trees, nodes, 2), dtype=np.int64)
            children[:, :, 0] = np.where(inner, self.right, own)
            children[:, :, 1] = np.where(inner, self.left, own)
            children = children.reshape(n_trees, nodes * 2)
            for start in range(0, x.shape[0], chunk):
                total[start : start + chunk] = self._walk(x[start : start + chunk], children)
        return 2.0 ** (-total / denominator)

    def _walk(self, block: np.ndarray, children: np.ndarray) -> np.ndarray:
        """Summed leaf lengths of ``block``'s rows, every tree walked a level at a time
        through ``children`` (see :meth:`score`).

        ``block`` is a few thousand rows, so that their node and index arrays stay in the CPU
        cache (65,536 rows took twice as long as 8,192)."""
        n_trees = self.left.shape[0]
        feature = self.feature.astype(np.int64)
        width = block.shape[1]
        flat = np.ascontiguousarray(block).ravel()
        n = flat.size // width if width else 0
        row_base = np.arange(n, dtype=np.int64) * width
        total = np.zeros(n)
        for t in range(n_trees):
            feat_t, thr_t, child_t = feature[t], self.threshold[t], children[t]
            node = np.zeros(n, dtype=np.int64)
            for _ in range(self.max_depth):
                values = flat.take(row_base + feat_t.take(node))
                node = child_t.take(2 * node + (values <= thr_t.take(node)))
            total += self.leaf_length[t].take(node)
        return total

    def _compiled(self) -> list[Any] | None:
        """scikit-learn ``Tree`` objects holding these arrays, built once (None: not possible).

        A tree is handed to compiled code only when it is a tree: every inner node's children
        come after it (so a walk ends: a model file that says otherwise is refused when loaded,
        :meth:`from_npz`), and every split reads a column of the rows scored (checked by
        :meth:`score`, as the compiled walk reads without bounds checks)."""
        with _compiled_lock:
            if self._trees is None:
                self._trees = _sklearn_trees(self) or []
        return self._trees or None

    def to_npz_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            left=self.left,
            right=self.right,
            feature=self.feature,
            threshold=self.threshold,
            leaf_length=self.leaf_length,
            meta=np.array([self.max_samples, self.max_depth], dtype=np.int64),
        )
        return buffer.getvalue()

    @classmethod
    def from_npz(cls, path: object) -> ForestArrays:
        try:
            with np.load(path, allow_pickle=False) as data:  # type: ignore[arg-type]
                arrays = {k: np.array(data[k]) for k in ("left", "right", "feature", "threshold", "leaf_length", "meta")}
        except (KeyError, ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(f"forest arrays are unreadable ({exc})") from None
        shape = arrays["left"].shape
        if any(arrays[k].shape != shape for k in ("right", "feature", "threshold", "leaf_length")) or len(shape) != 2:
            raise ValueError("forest arrays have inconsistent shapes")
        nodes = shape[1]
        for key in ("left", "right"):
            a = arrays[key]
            if a.size and (a.min() < -1 or a.max() >= nodes):
                raise ValueError("forest arrays point outside their trees")
        # Every inner node's children come after it, as scikit-learn numbers them: a walk down
        # a tree then always ends, whoever walks it.
        left, right = arrays["left"], arrays["right"]
        inner = left != -1
        own = np.broadcast_to(np.arange(nodes), shape)
        if ((right == -1) != ~inner).any() or (inner & ((left <= own) | (right <= own))).any():
            raise ValueError("forest arrays are not trees")
        meta = arrays["meta"]
        return cls(
            arrays["left"].astype(np.int32),
            arrays["right"].astype(np.int32),
            arrays["feature"].astype(np.int32),
            arrays["threshold"].astype(np.float64),
            arrays["leaf_length"].astype(np.float64),
            int(meta[0]),
            int(meta[1]),
        )


@dataclass(eq=False)  # holds arrays: compared by identity
class ForestScorer(BlockScorer):
    """"iforest": IsolationForest on the encoded rows.

    The forest reconstructs nothing; a column's "expected" value is its typical one (``means``,
    the training rows' mean per feature), so explanations rank columns by how far the row sits
    from the usual row.
    """

    forest: ForestArrays
    means: np.ndarray
    residual_scale: np.ndarray

    kind = "iforest"

    @property
    def network(self) -> DenseNetwork | None:
        return None

    @classmethod
    def fit(
        cls, preprocessor: TabularPreprocessor, matrix: np.ndarray, plan: FitPlan, hooks: FitHooks
    ) -> tuple[ForestScorer, Fitted]:
        check_cancel(hooks.should_stop)
        scorer = cls(ForestArrays.fit(matrix, seed=plan.seed), matrix.mean(axis=0), np.ones(matrix.shape[1]))
        return scorer, Fitted({}, scorer.score(preprocessor, matrix)[0], int(matrix.shape[0]))

    def score(
        self,
        preprocessor: TabularPreprocessor,
        matrix: np.ndarray,
        *,
        should_stop: StopCallback | None = None,
        on_scored: RowsCallback | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.forest.score(matrix), np.broadcast_to(self.means, matrix.shape)

    def to_arrays(self) -> dict[str, bytes]:
        return {"forest.npz": self.forest.to_npz_bytes()}

    @classmethod
    def from_arrays(
        cls, path: Path, manifest: dict[str, Any], preprocessor: TabularPreprocessor, network: DenseNetwork | None
    ) -> ForestScorer:
        forest = ForestArrays.from_npz(path / "forest.npz")
        n_features = preprocessor.n_features
        if forest.feature.size and forest.feature.max() >= n_features:
            raise ModelFileError(f"{path}: the forest does not fit the table's {n_features} features")
        return cls(
            forest,
            np.asarray(manifest["feature_means"], dtype=np.float64),
            np.asarray(manifest["residual_scale"], dtype=np.float64),
        )


def _sklearn_trees(forest: ForestArrays) -> list[Any] | None:
    """One scikit-learn ``Tree`` per tree of ``forest``, its node table filled from the arrays
    through the state scikit-learn itself restores a tree from; None where this version of
    scikit-learn keeps its trees otherwise (the NumPy walk is used then)."""
    try:
        from sklearn.tree._tree import NODE_DTYPE, Tree  # noqa: PLC0415

        n_trees, nodes = forest.left.shape
        width = int(forest.feature.max()) + 1 if forest.feature.size else 1
        out = []
        for t in range(n_trees):
            table = np.zeros(nodes, dtype=NODE_DTYPE)
            table["left_child"] = forest.left[t]
            table["right_child"] = forest.right[t]
            table["feature"] = np.where(forest.left[t] == -1, -2, forest.feature[t])
            table["threshold"] = np.where(forest.left[t] == -1, -2.0, forest.threshold[t])
            table["n_node_samples"] = 1
            table["weighted_n_node_samples"] = 1.0
            tree = Tree(width, np.array([1], dtype=np.intp), 1)
            tree.__setstate__(
                {"max_depth": forest.max_depth, "node_count": nodes, "nodes": table,
                 "values": np.zeros((nodes, 1, 1), dtype=np.float64)}
            )
            out.append(tree)
        return out
    except Exception:  # noqa: BLE001 - any difference in scikit-learn's internals: walk in NumPy
        return None
