"""The results table's data: which rows are shown, in which order, and how each cell reads.

Plain Python and NumPy, no Textual: the table widget asks this model for the rows it paints
(only the visible ones), so a table of 1,048,576 rows costs no more to draw than one of 50.
Sorting uses a rank array per column, computed once (NumPy ``argsort``) and reused for every
view (anomalies only, all rows, a search result), in either direction.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tui_detector import core

from .explain import TopFeatures
from .values import ColumnFormat, format_value, score_text

__all__ = ["Column", "ResultsModel", "format_value"]

if TYPE_CHECKING:
    from tui_detector.core import DetectionRun

#: The widest a data column is drawn at first; longer text is cut with an ellipsis (the full
#: text shows on the focused cell's status line and in Row details). A wide terminal gives
#: its spare width to the cut columns, up to MAX_NATURAL_WIDTH.
MAX_CELL_WIDTH = 24
MAX_NATURAL_WIDTH = 60
#: The most rows the top-features column sorts (each row is explained by the detector).
WHY_SORT_LIMIT = 20_000
#: How many rows are looked at to size a column.
WIDTH_SAMPLE = 200
#: Cells of a non-text column turned into text at once while searching.
SEARCH_CHUNK = 65_536
#: Every character the text of a number, flag or date cell can hold (as str() writes it, in
#: lower case: "-1.5e+20", "nan", "inf", "true", "2026-03-01 00:00:00", "nat").
_TEXT_CHARS = {
    "f": frozenset("0123456789.-+einfa"),
    "i": frozenset("0123456789-"),
    "u": frozenset("0123456789"),
    "b": frozenset("truefals"),
    "M": frozenset("0123456789-: .nat"),
}


@dataclass
class Column:
    """One table column: ``key`` is ``row``/``sheet_row``/``score``/``why`` or ``c<i>``."""

    key: str
    label: str
    width: int
    numeric: bool = False
    data_index: int | None = None
    #: the width its longest cell (of those sampled) needs; ``width`` is what it is drawn at
    natural: int = 0

    def __post_init__(self) -> None:
        self.natural = max(self.natural, self.width)
        self.base_width = self.width


class ResultsModel:
    """Rows, order and cells of the results table over one :class:`DetectionRun`."""

    def __init__(self, run: DetectionRun) -> None:
        self.run = run
        frame = run.frame
        self.rows = len(frame)
        self.values: list[Any] = [_cells(frame.iloc[:, i]) for i in range(frame.shape[1])]
        self.names = [str(c) for c in frame.columns]
        #: how each data column's cells read (decimals, date precision), from a sample
        self.formats = [ColumnFormat.of(values) for values in self.values]
        positions = {name: i for i, name in enumerate(self.names)}
        for profile in getattr(run.detector, "profiles_", []):
            # Dates a text file holds as text: the model's expected dates (ISO text) are shown
            # in the precision the column's own text has.
            index = positions.get(str(profile.name))
            if index is None:
                continue
            if str(profile.role) == "datetime" and not self.formats[index].dates:
                self.formats[index] = ColumnFormat.of_date_text(self.values[index])
            elif str(profile.role) in ("identifier", "categorical"):
                # Numbers that name things (IDs, codes, years as categories) read as written.
                self.formats[index] = dataclasses.replace(self.formats[index], grouping=False)
        # The row number the user finds the row by in their file: the sheet's row, or where the
        # format has one, the CSV's or JSON Lines' line, the record or table row (from 1).
        excel, source = run.loaded.excel_rows, run.loaded.source_rows
        numbers = excel if excel is not None else source
        self.excel_rows: np.ndarray | None = None if numbers is None else np.asarray(numbers)
        self.file_row_label = "sheet row" if excel is not None else _file_row_label(run.loaded.report.file_format)
        self.top = TopFeatures(run)
        #: data column index of each feature the model explains with
        self._feature_column = {name: i for i, name in enumerate(self.names)}
        self.all_rows = False
        self.sort_key: str | None = None
        self.descending = False
        self.query = ""
        self._match: np.ndarray | None = None
        #: The column filter in force (``core.RowFilter``) and the rows it keeps, or ``None``.
        self.row_filter: Any = None
        self._kept: np.ndarray | None = None
        self._ranks: dict[str, np.ndarray] = {}
        #: The verdicts on this run's rows (``ui.review.ReviewBook``), once the store is read.
        self.review: Any = None
        #: Leave reviewed rows out of the view (on by default once verdicts exist).
        self.hide_reviewed = False
        #: A language model's suggestions (``ui.triage.TriageBook``), once triage was started.
        #: Shown beside the verdicts; they never change a score or the order.
        self.triage: Any = None
        self.view = np.empty(0, dtype=np.int64)
        self.columns = self._columns()
        self.rebuild()

    # -- columns ---------------------------------------------------------------------------

    def _columns(self) -> list[Column]:
        n = self.rows
        digits = len(f"{max(n - 1, 0):,}")
        columns = [Column("row", "row", max(3, digits), numeric=True)]
        if self.excel_rows is not None:
            columns.append(Column("sheet_row", self.file_row_label, max(len(self.file_row_label), digits), numeric=True))
        scores = self.run.detection.scores
        finite = scores[np.isfinite(scores)] if n else scores[:0]
        extremes = [score_text(finite.min()), score_text(finite.max())] if finite.size else []
        columns.append(Column("score", "score", max([7, *map(len, extremes)]), numeric=True))
        columns.append(Column("why", "top features", 30, natural=44))
        sample = np.arange(min(n, WIDTH_SAMPLE))
        for i, name in enumerate(self.names):
            label = format_value(name)
            values, shown = self.values[i], self.formats[i]
            cells = [shown(v) for v in values[sample]]
            numeric = values.dtype.kind in "iufb"
            if values.dtype.kind in "iuf" and n:
                # A number beyond the sample must not be cut: the extremes are cheap to find.
                finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
                if finite.size:
                    cells += [shown(finite.min()), shown(finite.max())]
            natural = min(MAX_NATURAL_WIDTH, max([len(label), 3, *map(len, cells)]))
            width = natural if numeric else min(MAX_CELL_WIDTH, natural)
            columns.append(Column(f"c{i}", label, width, numeric=numeric, data_index=i, natural=natural))
        return columns

    def update_status_column(self) -> bool:
        """Show the review column once there is something in it (a verdict, a suppression, a
        new/recurring mark), so that a file never reviewed keeps its width for its own columns.
        Returns whether the columns changed."""
        book = self.review
        wanted = book is not None and (book.has_verdicts or bool(book.marks))
        present = any(c.key == "status" for c in self.columns)
        if wanted == present:
            return False
        if wanted:
            after = next(i for i, c in enumerate(self.columns) if c.key == "score") + 1
            self.columns.insert(after, Column("status", "review", len("suppressed")))
        else:
            self.columns = [c for c in self.columns if c.key != "status"]
        return True

    def update_triage_column(self) -> bool:
        """Show the model's suggestions (after the review column) once triage has started.
        Returns whether the columns changed."""
        if self.triage is None or any(c.key == "triage" for c in self.columns):
            return False
        keys = [c.key for c in self.columns]
        after = keys.index("status" if "status" in keys else "score") + 1
        self.columns.insert(after, Column("triage", "model suggests", len("model suggests")))
        return True

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    # -- the view --------------------------------------------------------------------------

    @property
    def flags(self) -> np.ndarray:
        return self.run.detection.flags

    @property
    def anomaly_count(self) -> int:
        return int(np.count_nonzero(self.flags))

    def rebuild(self) -> None:
        """Recompute the rows shown (mode, search, threshold) and their order."""
        self.view = self._ordered(self._shown(self.hide_reviewed))

    def _shown(self, hide_reviewed: bool) -> np.ndarray:
        base = np.arange(self.rows, dtype=np.int64) if self.all_rows else np.flatnonzero(self.flags)
        if self._match is not None:
            base = base[self._match[base]]
        if self._kept is not None:
            base = base[self._kept[base]]
        if hide_reviewed and self.review is not None:
            base = base[~self.review.reviewed(self.rows)[base]]
        return base

    def next_unreviewed(self, row: int, by: int) -> int | None:
        """The first unreviewed row after (``by`` = 1) or before (-1) ``row`` in the table's
        order and filter, reviewed rows counted in (the row itself may just have been reviewed
        and left the view); None at the end."""
        if self.review is None:
            return None
        order = self._ordered(self._shown(False))
        hits = (order == row).nonzero()[0]
        start = int(hits[0]) if hits.size else (-1 if by > 0 else len(order))
        reviewed = self.review.reviewed(self.rows)
        steps = order[start + 1 :] if by > 0 else order[:max(start, 0)][::-1]
        found = steps[~reviewed[steps]]
        return int(found[0]) if found.size else None

    def _ordered(self, rows: np.ndarray) -> np.ndarray:
        if self.sort_key is None:
            # Default: highest score first, ties by row.
            scores = self.run.detection.scores[rows]
            return rows[np.lexsort((rows, -scores))]
        if self.sort_key == "why":  # explained on demand: only the rows in the view
            rank = self.top.first_name_rank(rows)
        elif self.sort_key in ("status", "triage"):  # they change while the table is open: never cached
            rank = self._status_rank(rows, self.status if self.sort_key == "status" else self.suggestion_cell)
        else:
            rank = self.rank(self.sort_key)[rows]
        order = np.argsort(-rank if self.descending else rank, kind="stable")
        return rows[order]

    def sort(self, key: str, descending: bool | None = None) -> None:
        """Sort by ``key``; without ``descending``, sorting the same column again reverses it."""
        if descending is None:
            descending = not self.descending if key == self.sort_key else key == "score"
        self.sort_key, self.descending = key, descending
        self.view = self._ordered(self.view)

    def rank(self, key: str) -> np.ndarray:
        """Each row's position in ascending order of column ``key`` (missing values last)."""
        if key not in self._ranks:
            order = self._ascending_order(key)
            rank = np.empty(self.rows, dtype=np.int64)
            rank[order] = np.arange(self.rows, dtype=np.int64)
            self._ranks[key] = rank
        return self._ranks[key]

    def _ascending_order(self, key: str) -> np.ndarray:
        if key == "row":
            return np.arange(self.rows)
        if key == "sheet_row" and self.excel_rows is not None:
            return np.argsort(self.excel_rows, kind="stable")
        if key == "score":
            return np.argsort(self.run.detection.scores, kind="stable")
        values = self.values[self.column(key).data_index or 0]
        return _argsort_values(values)

    def _status_rank(self, rows: np.ndarray, cell: Any) -> np.ndarray:
        names = [cell(int(r)) for r in rows]
        order = {name: i for i, name in enumerate(sorted(set(names)))}
        return np.array([order[n] for n in names], dtype=np.int64)

    def status(self, row: int) -> str:
        """What the review column shows: the verdict, "suppressed", or "new" / "recurring"."""
        return "" if self.review is None else self.review.status(row)

    def suggestion_cell(self, row: int) -> str:
        """What the suggestion column shows: the model's verdict in words, or nothing."""
        return "" if self.triage is None else self.triage.cell(row)

    def sortable(self, key: str) -> str | None:
        """Why ``key`` cannot be sorted now (in words), or ``None`` when it can."""
        if key == "why" and len(self.view) > WHY_SORT_LIMIT:
            return (
                f"Sorting by top features explains every row shown; with {len(self.view):,} rows that "
                f"takes too long. Search or show anomalies only (at most {WHY_SORT_LIMIT:,} rows)."
            )
        return None

    def set_all_rows(self, all_rows: bool) -> None:
        self.all_rows = all_rows
        self.rebuild()

    def set_query(self, query: str, match: np.ndarray | None) -> None:
        self.query = query
        self._match = match
        self.rebuild()

    def search_mask(self, query: str) -> np.ndarray:
        """Rows where any cell contains ``query`` (case-insensitive); slow on big tables: call
        it from a worker. Text is searched in Arrow; other columns as their text, a chunk at a
        time (one call over a million numbers holds the interpreter lock, and so the screen,
        for a second), and not at all when no cell of their kind could contain the query."""
        import pandas as pd  # noqa: PLC0415

        needle = query.casefold()
        mask = np.zeros(self.rows, dtype=bool)
        for values in self.values:
            arrow = _arrow_text(values)
            if arrow is not None:
                import pyarrow.compute as pc  # noqa: PLC0415

                found = pc.match_substring(arrow, query, ignore_case=True).fill_null(False)
                mask |= found.to_numpy(zero_copy_only=False)
                continue
            wanted = needle
            if values.dtype.kind in "iuf":  # the screen shows 19,999.99: the cell holds 19999.99
                wanted = needle.replace(",", "")
            possible = _TEXT_CHARS.get(values.dtype.kind)
            if possible is not None and not set(wanted) <= possible or not wanted:
                continue
            for start in range(0, self.rows, SEARCH_CHUNK):
                part = values[start : start + SEARCH_CHUNK]
                text = pd.Series(part, copy=False).astype(str).str.casefold()
                mask[start : start + SEARCH_CHUNK] |= text.str.contains(wanted, regex=False, na=False).to_numpy()
        return mask

    # -- the column filter ------------------------------------------------------------------

    def parse_filter(self, text: str) -> Any:
        """``text`` as a ``core.RowFilter`` over this table's columns; ``core.FilterError`` if not."""
        return core.parse_filter(text, self.names)

    def filter_mask(self, row_filter: Any) -> np.ndarray:
        """The rows ``row_filter`` keeps (vectorised over whole columns: fast on a million rows)."""
        return core.filter_mask(row_filter, self.values)

    def set_filter(self, row_filter: Any, kept: np.ndarray | None) -> None:
        self.row_filter = row_filter
        self._kept = kept
        self.rebuild()

    @property
    def filter_matches(self) -> int:
        """How many rows of the sheet the filter keeps (all of them when there is none)."""
        return self.rows if self._kept is None else int(np.count_nonzero(self._kept))

    # -- cells -----------------------------------------------------------------------------

    def cell(self, row: int, column: Column) -> str:
        key = column.key
        if key == "row":
            return f"{row}"
        if key == "sheet_row":
            return "" if self.excel_rows is None else f"{int(self.excel_rows[row])}"
        if key == "score":
            return score_text(self.run.detection.scores[row])
        if key == "why":
            return " · ".join(self.top.names(row))
        if key == "status":
            return self.status(row)
        if key == "triage":
            return self.suggestion_cell(row)
        index = column.data_index or 0
        return self.formats[index](self.values[index][row])

    def value_text(self, row: int, name: str, value: Any = None, *, own: bool = True) -> str:
        """Column ``name``'s cell of ``row`` as the table shows it (``own``), or ``value`` (an
        expected value the model gave) in that column's format."""
        index = self._feature_column.get(name)
        if index is None:
            return format_value(value)
        if own:
            return self.formats[index](self.values[index][row])
        return self.formats[index](value, from_model=True)

    def row_text(self, row: int) -> list[str]:
        """The sheet's own cells of ``row``, in the file's column order (what ``Y`` copies)."""
        return [self.cell(row, c) for c in self.columns if c.data_index is not None]

    def highlights(self, row: int) -> dict[int, int]:
        """Data column index → rank (0 = the feature that explains the row most)."""
        return {
            self._feature_column[name]: rank
            for rank, name in enumerate(self.top.names(row))
            if name in self._feature_column
        }

    def prefetch(self, rows: np.ndarray) -> None:
        self.top.ensure(rows)


def _cells(series: Any) -> Any:
    """A column's cells for drawing and sorting: text kept in its Arrow buffers (turning a
    million of them into Python strings holds the interpreter lock for a visible moment, and
    costs memory); everything else as a NumPy array."""
    array = series.array
    if _arrow_text(array) is not None:
        return array
    return series.to_numpy()


def _arrow_text(values: Any) -> Any:
    """The Arrow data behind a pandas text column (no copy), or None for any other column."""
    import pandas as pd  # noqa: PLC0415 - loaded with the table

    dtype = getattr(values, "dtype", None)
    if not isinstance(dtype, pd.StringDtype) or dtype.storage != "pyarrow":
        return None
    import pyarrow as pa  # noqa: PLC0415 - pandas stores text in Arrow only when it is there

    return pa.array(values)  # through pandas' __arrow_array__: the column's own buffers


def _argsort_values(values: Any) -> np.ndarray:
    """Ascending order of one column's cells, missing last, mixed types by their text."""
    import pandas as pd  # noqa: PLC0415

    arrow = _arrow_text(values)
    if arrow is not None:
        import pyarrow.compute as pc  # noqa: PLC0415

        # Stable, in C without the interpreter lock, in code-point order (UTF-8 byte order),
        # as Python compares str.
        order = pc.array_sort_indices(arrow, order="ascending", null_placement="at_end")
        return order.to_numpy().astype(np.int64, copy=False)
    if values.dtype.kind in "iub":
        return np.argsort(values, kind="stable")
    if values.dtype.kind in "fmM":
        return np.argsort(values, kind="stable")  # NaN/NaT sort last
    order = _argsort_text(values)
    if order is not None:
        return order
    series = pd.Series(values, copy=False)
    try:
        codes, _ = pd.factorize(series, sort=True)
    except TypeError:
        codes, _ = pd.factorize(series.map(format_value, na_action="ignore"), sort=True)
    codes = codes.astype(np.int64)
    codes[codes < 0] = np.iinfo(np.int64).max  # missing last
    return np.argsort(codes, kind="stable")


#: The most memory a fixed-width copy of a text column may take to be sorted in C.
TEXT_SORT_BYTES = 256 * 2**20


def _argsort_text(values: np.ndarray) -> np.ndarray | None:
    """Ascending order of a column of text cells (missing last), without sorting a million
    Python strings: a category sorts its few distinct values and then the rows by their value's
    place; a column of mostly distinct values (IDs) is sorted in C as a fixed-width copy (~4x
    faster). ``None`` when the column is not all text, or when the copy would be too big."""
    import pandas as pd  # noqa: PLC0415 - loaded by then; kept out of the app's start-up

    if values.dtype != object or pd.api.types.infer_dtype(values, skipna=True) != "string":
        return None
    sample = values[:: max(1, len(values) // 10_000)]
    if len(pd.unique(sample)) <= len(sample) // 4:
        # Few distinct values (a category): sort those, then the rows by their value's place.
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        place = np.empty(len(uniques) + 1, dtype=np.int64)
        place[sorted(range(len(uniques)), key=uniques.__getitem__)] = np.arange(len(uniques))
        place[-1] = len(uniques)  # missing (code -1) last
        return np.argsort(place[codes], kind="stable")
    missing = pd.isna(values)
    present = np.flatnonzero(~missing)
    text = values[present]
    longest = max(map(len, text), default=0)
    if len(text) * max(longest, 1) * 4 > TEXT_SORT_BYTES:
        return None
    # Unicode code-point order, as Python compares str: the same order as the fallback.
    fixed = np.empty(len(text), dtype=f"U{max(longest, 1)}")
    for start in range(0, len(text), 65_536):  # chunks: the screen repaints in between
        fixed[start : start + 65_536] = text[start : start + 65_536]
    return np.concatenate([present[np.argsort(fixed, kind="stable")], np.flatnonzero(missing)])


def _file_row_label(file_format: str) -> str:
    """What a row's number in a file of this format is called."""
    if file_format in ("csv", "tsv", "jsonl"):
        return "line"
    return {"json": "record", "sqlite": "table row"}.get(file_format, "file row")
