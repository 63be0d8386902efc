"""Open file: a directory tree of the files we can read, their size and date, recent files,
and a path to type."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DirectoryTree, Footer, Header, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui_detector import core

from ..journey import OpenFile
from ..recent import recent_files
from ..widgets.path_label import cut_left, recent_width
from ..widgets.vim_keys import VimOptionList, VimTreeKeys

#: What the picker lists: the reader's formats (from a module that loads no pandas).
EXTENSIONS = core.SUPPORTED_EXTENSIONS
#: Extensions used for prose as often as for tables: listed only when the file looks like one.
PROSE_EXTENSIONS = (".txt",)
#: How much of such a file is looked at, and the separators a table of text would use.
SNIFF_BYTES = 4096
SEPARATORS = (",", "\t", ";", "|")


def looks_like_a_table(path: Path) -> bool:
    """Whether a text file's first lines share a column separator (a note does not): the reader
    would open ``notes.txt`` as one column of sentences, which is no table to learn from."""
    try:
        with path.open("rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return False
    text = head.decode("utf-8", errors="replace")
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if len(head) == SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # possibly cut in the middle
    if len(lines) < 2:
        return False
    return any(lines[0].count(sep) >= 1 and all(line.count(sep) == lines[0].count(sep) for line in lines[1:]) for sep in SEPARATORS)


def is_our_export(path: Path) -> bool:
    """Whether a .json file is this tool's own export (its first keys say so): the reader
    refuses it, since it holds the anomalies found in a table, not the table."""
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError:
        return False
    return b'"schema_version"' in head and b'"anomaly-tui"' in head


def can_open(path: Path) -> bool:
    """Whether the picker lists ``path``: a folder, or a file in a format the reader opens."""
    if path.is_dir():
        return True
    suffix = path.suffix.lower()
    if suffix not in EXTENSIONS:
        return False
    if suffix == ".json":
        return not is_our_export(path)
    return suffix not in PROSE_EXTENSIONS or looks_like_a_table(path)


class DataFileTree(VimTreeKeys, DirectoryTree):
    """Folders and files the reader opens only; no hidden files, no Excel lock files (``~$…``)."""

    async def watch_path(self) -> None:
        await super().watch_path()
        # The root is named like the folders in the heading: "name/".
        path = Path(self.path)
        self.root.set_label(Text(f"{path.name or path}/"))

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        for path in paths:
            name = path.name
            if name.startswith((".", "~$")):
                continue
            try:
                if can_open(path):
                    yield path
            except OSError:
                continue


class PathInput(Input):
    """The typed path; ``backspace`` with nothing typed goes up a folder."""

    class Up(Message):
        """Go up a folder."""

    def action_delete_left(self) -> None:
        if not self.value:
            self.post_message(self.Up())
            return
        super().action_delete_left()


class OpenFileScreen(Screen[Path | None]):
    """The first screen: a chosen file is posted to the app (:class:`~..journey.OpenFile`).
    With ``purpose`` it picks a file for its caller and dismisses with its path (``None`` on
    ``escape``) instead."""

    SUB_TITLE = "Open file"
    BINDINGS = [
        Binding("escape", "back", "Back", show=False),
        Binding("backspace", "up", "Up a folder", key_display="⌫"),
    ]

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
                yield Label(self._heading(), classes="pane-title", id="tree-title")
                yield DataFileTree(self.directory, id="tree")
            with Vertical(id="side-pane"):
                yield Label("Selected file", classes="pane-title")
                yield Static(Text("Highlight a file to see its size and date.", style="dim"), id="file-info")
                yield Label("Recently opened", classes="pane-title")
                yield VimOptionList(id="recent")
        # Not selected on focus: a path begun on the tree goes on in the field (see on_key).
        yield PathInput(placeholder="…or type a path (or ..) and press enter; backspace: up a folder", id="path", select_on_focus=False)
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

    #: Keys that can only start a typed path: pressed on the tree or the list, they go to the
    #: path field (the letters stay the lists' movement keys).
    PATH_STARTS = frozenset("/~.")

    def on_key(self, event: events.Key) -> None:
        path = self.query_one("#path", Input)
        if event.character in self.PATH_STARTS and not path.has_focus:
            event.stop()
            event.prevent_default()
            path.focus()
            path.value = event.character
            path.cursor_position = len(path.value)

    def _heading(self) -> Text:
        # The folder's name, not its whole path: the tree below starts there.
        return Text(f"Files in {self.directory.name or self.directory}/")

    def go_to(self, directory: Path) -> None:
        """Show ``directory`` in the tree; the heading always names the folder shown."""
        self.directory = directory.resolve()
        tree = self.query_one("#tree", DataFileTree)
        tree.path = self.directory
        self.query_one("#tree-title", Label).update(self._heading())

    def action_up(self) -> None:
        parent = self.directory.parent
        if parent == self.directory:
            self.notify("This is the top folder.", severity="warning")
            return
        self.go_to(parent)

    @on(PathInput.Up)
    def _up(self) -> None:
        self.action_up()

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
        info.update(Text(f"{path.name}\n{core.human_size(stat.st_size)} · modified {when}"))

    def _open(self, path: Path) -> None:
        # Forget what was typed: after a failed open, going back must not offer it again.
        self.query_one("#path", Input).value = ""
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
            event.input.value = ""
            self.go_to(path)
            return
        if not path.is_file():
            self.notify(f"No such file: {path}", severity="error", markup=False)
            return
        self._open(path)

    def action_back(self) -> None:
        """The first screen has nothing to go back to; a picker goes back to its caller."""
        if self.purpose:
            self.dismiss(None)
