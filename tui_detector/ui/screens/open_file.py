"""Open file: a directory tree of the files we can read, their size and date, recent files,
and a path to type."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DirectoryTree, Footer, Header, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui_detector.core import SUPPORTED_EXTENSIONS, human_size

from ..journey import OpenFile
from ..recent import recent_files
from ..widgets.path_label import cut_left, recent_width

#: What the picker lists: the reader's formats (from a module that loads no pandas).
EXTENSIONS = SUPPORTED_EXTENSIONS


class DataFileTree(DirectoryTree):
    """Folders and supported files only; no hidden files, no Excel lock files (``~$…``)."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        for path in paths:
            name = path.name
            if name.startswith((".", "~$")):
                continue
            try:
                if path.is_dir() or path.suffix.lower() in EXTENSIONS:
                    yield path
            except OSError:
                continue


class OpenFileScreen(Screen[Path | None]):
    """The first screen: a chosen file is posted to the app (:class:`~..journey.OpenFile`).
    With ``purpose`` it picks a file for its caller and dismisses with its path (``None`` on
    ``escape``) instead."""

    SUB_TITLE = "Open file"
    BINDINGS = [Binding("escape", "back", "Back", show=False)]

    def __init__(self, directory: Path, *, purpose: str | None = None) -> None:
        super().__init__()
        self.directory = directory
        self.purpose = purpose

    def compose(self) -> ComposeResult:
        yield Header()
        if self.purpose:
            yield Static(Text(self.purpose, style="bold"), id="purpose")
        with Horizontal(id="open-body"):
            with Vertical(id="tree-pane"):
                yield Label(Text(f"Files in {self.directory.name or self.directory}/"), classes="pane-title")
                yield DataFileTree(self.directory, id="tree")
            with Vertical(id="side-pane"):
                yield Label("Selected file", classes="pane-title")
                yield Static(Text("Highlight a file to see its size and date.", style="dim"), id="file-info")
                yield Label("Recently opened", classes="pane-title")
                yield OptionList(id="recent")
        yield Input(placeholder="…or type a path and press enter", id="path")
        yield Footer()

    def on_mount(self) -> None:
        recent = self.query_one("#recent", OptionList)
        files = recent_files()
        for path in files:
            recent.add_option(Option(Text(cut_left(str(path), recent_width(self.app.size.width))), id=str(path)))
        if not files:
            recent.add_option(Option(Text("(none yet)", style="dim"), disabled=True))
        tree = self.query_one("#tree", DataFileTree)
        tree.root.set_label(Text(f"{self.directory.name or self.directory}/"))
        tree.focus()

    @on(DirectoryTree.NodeHighlighted)
    def _highlighted(self, event: DirectoryTree.NodeHighlighted) -> None:
        entry = event.node.data
        if entry is None:
            return
        path = entry.path
        info = self.query_one("#file-info", Static)
        try:
            stat = path.stat()
        except OSError as exc:
            info.update(Text(f"{path.name}\n{exc.strerror or exc}"))
            return
        if path.is_dir():
            info.update(Text(f"{path.name}/\nfolder"))
            return
        when = dt.datetime.fromtimestamp(stat.st_mtime).strftime("%Y-%m-%d %H:%M")
        info.update(Text(f"{path.name}\n{human_size(stat.st_size)} · modified {when}"))

    def _open(self, path: Path) -> None:
        if self.purpose:
            self.dismiss(path)
        else:
            self.post_message(OpenFile(path))

    @on(DirectoryTree.FileSelected)
    def _selected(self, event: DirectoryTree.FileSelected) -> None:
        self._open(event.path)

    @on(OptionList.OptionSelected, "#recent")
    def _recent(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self._open(Path(event.option.id))

    @on(Input.Submitted, "#path")
    def _typed(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        path = Path(text).expanduser()
        if not path.is_absolute():
            path = self.directory / path
        if path.is_dir():
            self.query_one("#tree", DataFileTree).path = path
            return
        if not path.is_file():
            self.notify(f"No such file: {path}", severity="error", markup=False)
            return
        self._open(path)

    def action_back(self) -> None:
        """The first screen has nothing to go back to; a picker goes back to its caller."""
        if self.purpose:
            self.dismiss(None)
