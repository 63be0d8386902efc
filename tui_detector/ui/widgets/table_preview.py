"""Set up's preview: the first rows of the table as read, cells as the results will show them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import DataTable

if TYPE_CHECKING:
    import pandas as pd

#: Rows shown, and the widest a cell is drawn.
PREVIEW_ROWS = 6
CELL_WIDTH = 30


class TablePreview(DataTable[Text]):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="none", zebra_stripes=True, show_cursor=False)

    def show(self, frame: pd.DataFrame) -> None:
        # The results' cell format loads NumPy: imported with the first table, not at start-up.
        from ..values import FORMAT_SAMPLE, ColumnFormat, format_value  # noqa: PLC0415

        self.clear(columns=True)
        head = frame.head(PREVIEW_ROWS)
        # Each column's format from its first cells, as the results table does it.
        formats = [ColumnFormat.of(frame.iloc[:FORMAT_SAMPLE, i].to_numpy()) for i in range(frame.shape[1])]
        cells = [
            [fmt(v)[:CELL_WIDTH] for fmt, v in zip(formats, row, strict=True)] for row in head.itertuples(index=False)
        ]
        # Explicit widths: auto-sized columns settle on a later refresh, so screenshots raced.
        for i, name in enumerate(frame.columns):
            label = format_value(str(name))
            width = max([len(label[:CELL_WIDTH]), *(len(row[i]) for row in cells), 1])
            self.add_column(Text(label), width=width)
        for row in cells:
            self.add_row(*(Text(cell) for cell in row))
