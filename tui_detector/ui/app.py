"""A first screen over the core: the file's sheets and the column roles the core inferred.

The full journey (file picker, set-up, training, results) replaces this screen; until then it
shows what the core already knows about a file, read in a worker so the screen never freezes.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header, Static


class AnomalyApp(App[None]):
    TITLE = "anomaly-tui"
    BINDINGS = [("q", "quit", "Quit")]
    CSS = """
    #status { padding: 0 1; height: auto; }
    DataTable { height: 1fr; }
    """

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        yield Header()
        # markup=False: file names and cell text are shown verbatim, never read as markup.
        yield Static("", id="status", markup=False)
        yield DataTable(id="roles", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Set up"
        table = self.query_one(DataTable)
        table.add_columns("column", "role", "why")
        if self.path is None:
            self.query_one("#status", Static).update(
                "Run `anomaly-tui FILE` or `anomaly-tui --demo`; the file picker is coming."
            )
            return
        self.query_one("#status", Static).update(f"Reading {self.path.name} …")
        self.load_file(self.path)

    @work(thread=True, exclusive=True, exit_on_error=False, group="read")
    def load_file(self, path: Path) -> None:
        from tui_detector.core.reader import ReadError, read_table
        from tui_detector.core.roles import profile_columns

        try:
            loaded = read_table(path)
            profiles = profile_columns(loaded.frame)
        except ReadError as exc:
            self.call_from_thread(self._show_error, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a bad file must leave a message, not a dead app
            self.call_from_thread(self._show_error, f"{type(exc).__name__}: {exc}")
            return
        report = loaded.report
        summary = (
            f"{path.name} — sheet {report.sheet!r}, header on row {report.header_row}, "
            f"{report.rows:,} rows × {len(report.columns)} columns (read by {report.engine} "
            f"in {report.seconds:.2f} s)"
        )
        rows = [(Text(p.name), Text(str(p.role)), Text(p.reason)) for p in profiles]
        self.call_from_thread(self._show_roles, summary, rows)

    def _show_error(self, message: str) -> None:
        self.query_one("#status", Static).update(f"Cannot open this file: {message}")

    def _show_roles(self, summary: str, rows: list[tuple[Text, Text, Text]]) -> None:
        self.query_one("#status", Static).update(summary)
        self.query_one(DataTable).add_rows(rows)


def make_app(path: Path | None = None) -> AnomalyApp:
    return AnomalyApp(path)
