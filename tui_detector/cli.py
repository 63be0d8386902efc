"""Command line.

    anomaly-tui [PATH] [--demo]          open the app
    anomaly-tui detect PATH [options]    headless detection, JSON on stdout or --output
    anomaly-tui cache list|clear|path    the model cache
    anomaly-tui review set|list|export   verdicts on rows (see cli_review.py)
    anomaly-tui runs list|show           past runs, from the review store

Exit status: 0 success, 1 unusable input (one ``error: …`` line on stderr, no traceback),
2 bad arguments. ``detect`` and ``train`` do their work in a child of a small watcher process,
so that even a death Python cannot catch (a native library failing an allocation under a
memory limit) ends in that one line; a problem with the model cache is one ``note: …`` line.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import errno
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from . import __version__
from .cli_common import CliError
from .cli_common import check_input as _check_input
from .cli_common import check_output as _check_output
from .cli_common import error as _error
from .cli_common import note as _note
from .cli_common import printable as _printable
from .cli_common import resolve_sheet as _resolve_sheet
from .cli_common import write_or_fail as _write
from .cli_common import whole_number
from .core.env import small_pages
from .cli_common import write_stdout as _write_stdout
from .core.presets import DEFAULT_PRESET, PRESETS, parse_percentile
from .core.units import human_size

EXIT_OK = 0
EXIT_INPUT = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DEBUG_ENV = "ANOMALY_TUI_DEBUG"


# -- argument types ---------------------------------------------------------------------------


def _percentile(text: str) -> float:
    try:
        return parse_percentile(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(text: str) -> int:
    return whole_number(text, 1)


def _seed(text: str) -> int:
    return whole_number(text, 0, 2**32 - 1, high_text="2**32 - 1")


def _scored_copy_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in (".xlsx", ".csv"):
        raise argparse.ArgumentTypeError(f"must end in .xlsx or .csv, not {text!r}")
    return path


# -- parsers ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anomaly-tui",
        description="Find the strange rows in a spreadsheet and explain why they are strange.",
        epilog=(
            "headless: 'anomaly-tui detect PATH' (see 'anomaly-tui detect --help'); "
            "train on a baseline: 'anomaly-tui train PATH'; model cache: 'anomaly-tui cache list|clear|path'; "
            "verdicts: 'anomaly-tui review set|list|export'; past runs: 'anomaly-tui runs list|show'"
        ),
    )
    parser.add_argument("path", nargs="?", type=Path, help="an .xlsx/.xlsm/.xls/.xlsb/.ods/.csv/.tsv file")
    parser.add_argument("--demo", action="store_true", help="open the bundled sample workbook")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    from .cli_triage import add_endpoint_options  # noqa: PLC0415

    add_endpoint_options(parser, with_switch=False)
    return parser


def build_detect_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anomaly-tui detect",
        description=(
            "Score every row of a sheet and write the anomalous ones, explained, as JSON "
            "(schema_version 1). A model trained before on the same data and settings is reused."
        ),
    )
    parser.add_argument("path", type=Path, help="the spreadsheet, CSV, Parquet, JSON (Lines) or SQLite file")
    parser.add_argument("--sheet", metavar="NAME|INDEX", help="sheet (or database table) name, or its 0-based number (default: the first visible sheet, or the first table)")
    parser.add_argument("-o", "--output", type=Path, metavar="FILE", help="write the JSON here (replaced if it exists) instead of stdout")
    parser.add_argument("--all-rows", action="store_true", help="add 'scores': every row's score, by row_index")
    _add_model_options(parser)
    parser.add_argument("--scored-copy", type=_scored_copy_path, metavar="FILE.xlsx|FILE.csv", help="also write the input rows with anomaly_score, is_anomaly and the top features")
    baseline = parser.add_argument_group("scoring with a model trained on another file")
    source = baseline.add_mutually_exclusive_group()
    source.add_argument("--model-from", type=Path, metavar="BASELINE", help="use the model of this file (its cached one, trained first if needed)")
    source.add_argument("--model-dir", type=Path, metavar="DIR", help="use a model saved with 'anomaly-tui train --save DIR' or TabularAnomalyDetector.save")
    baseline.add_argument("--baseline-sheet", metavar="NAME|INDEX", help="the sheet of --model-from (default: its first visible sheet)")
    baseline.add_argument("--column-map", action="append", type=_column_pair, default=[], metavar="NEW=MODEL", help="this table's column NEW supplies the model's column MODEL (repeatable)")
    from .cli_review import add_detect_options  # noqa: PLC0415 - it imports this module
    from .cli_triage import add_detect_options as add_triage_options  # noqa: PLC0415

    add_detect_options(parser)
    add_triage_options(parser)
    return parser


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    threshold = parser.add_mutually_exclusive_group()
    threshold.add_argument("--threshold-percentile", type=_percentile, metavar="P", help="flag rows scoring above this percentile of the training scores (default 95)")
    threshold.add_argument("--preset", choices=tuple(PRESETS), help="strict = 99 (fewer false positives on very imbalanced data), balanced = 95 (default), sensitive = 90 (security and fraud work)")
    parser.add_argument("--epochs", type=_positive_int, metavar="N", help="training epochs (default: chosen from the table's size; early stopping may end sooner)")
    parser.add_argument("--seed", type=_seed, default=0, metavar="S", help="random seed (default 0); the same file and seed give the same scores")
    parser.add_argument("--no-cache", action="store_true", help="train afresh and do not store the model")
    parser.add_argument("--keep-totals", action="store_true", help="keep rows that look like totals (their numbers are the sums of the rows above); by default they are left out and listed in diagnostics")
    parser.add_argument("--model", choices=("auto", "autoencoder", "iforest"), default="auto", help="auto (default, the best one), autoencoder (the design note's recipe) or iforest")


def _column_pair(text: str) -> tuple[str, str]:
    new, sep, model = text.partition("=")
    if not sep or not new or not model:
        raise argparse.ArgumentTypeError(f"expected NEW=MODEL, not {text!r}")
    return new, model


def build_train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anomaly-tui train",
        description="Train a model on a baseline file and cache it (optionally save it too), without scoring.",
    )
    parser.add_argument("path", type=Path, help="the baseline spreadsheet, CSV, Parquet, JSON (Lines) or SQLite file")
    parser.add_argument("--sheet", metavar="NAME|INDEX", help="sheet (or database table) name, or its 0-based number (default: the first visible sheet, or the first table)")
    parser.add_argument("--save", type=Path, metavar="DIR", help="also save the model here (data only: JSON + .npz)")
    _add_model_options(parser)
    return parser


def build_cache_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anomaly-tui cache", description="See, empty and locate the model cache.")
    sub = parser.add_subparsers(dest="action", required=True, metavar="list|clear|path")
    listing = sub.add_parser("list", help="one line per cached model, most recently used first")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    sub.add_parser("clear", help="delete every cached model")
    sub.add_parser("path", help="print the cache directory")
    return parser


# -- entry point ------------------------------------------------------------------------------


#: Set (to the watcher's process id) in the environment of the process that does a headless
#: command's work under a watcher.
WATCHED_ENV = "ANOMALY_TUI_WATCHED"
#: Deaths by these signals are a native library failing an allocation (or the kernel's memory
#: killer); no Python code runs then, so only a watching process can still say so in one line.
_CRASH_SIGNALS = ("SIGSEGV", "SIGBUS", "SIGABRT", "SIGKILL", "SIGILL", "SIGFPE")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    small_pages()
    if argv is None and args and args[0] in ("detect", "train") and _can_watch():
        return _watched(args)
    watcher = _as_watched_child()
    if args and args[0] in ("detect", "train"):
        command = detect_command if args[0] == "detect" else train_command
        parser = build_detect_parser if args[0] == "detect" else build_train_parser
        try:
            return _guarded(lambda: command(parser().parse_args(args[1:])))
        finally:
            _tell_watcher(watcher)
    if args and args[0] == "cache":
        return _guarded(lambda: cache_command(build_cache_parser().parse_args(args[1:])))
    if args and args[0] in ("review", "runs"):
        from .cli_review import command as review_command  # noqa: PLC0415

        return _guarded(lambda: review_command(args))
    return app_command(build_parser().parse_args(args))


def _can_watch() -> bool:
    return os.name == "posix" and WATCHED_ENV not in os.environ and not os.environ.get(DEBUG_ENV)


def _watched(args: list[str]) -> int:
    """Run a headless command in a child process with the same streams and wait for it.

    Under a memory limit the work can die in native code (pandas or pyarrow failing an
    allocation segfaults; a cgroup's memory killer sends SIGKILL) before Python can raise
    anything. This small process survives that and turns it into the one ``error:`` line and
    exit status 1 every other failure gets; the child never leaves a core file of the user's
    data. ^C reaches the child from the terminal (same process group), so it is ignored here;
    SIGTERM and SIGHUP are passed on.
    """
    import signal  # noqa: PLC0415
    import subprocess  # noqa: PLC0415

    # The child writes a byte here once it has finished in its own words (even an error
    # line); an ending without it was cut short where Python could not speak.
    said, tell = os.pipe()
    from .core.io.sandbox import package_root  # noqa: PLC0415

    env = dict(os.environ, **{WATCHED_ENV: f"{os.getpid()}:{tell}"})
    # This very package first on the child's path, however this process found it.
    env["PYTHONPATH"] = package_root() + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        child = subprocess.Popen([sys.executable, "-m", "tui_detector", *args], env=env, pass_fds=(tell,))
    except OSError as exc:
        os.close(said)
        os.close(tell)
        if exc.errno in (errno.ENOMEM, errno.EAGAIN):
            _error(f"not enough memory: cannot start the work ({exc.strerror})")
            return EXIT_INPUT
        raise
    os.close(tell)
    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name)
        previous[number] = signal.signal(number, lambda sig, _frame: _pass_on(child, sig))
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        while True:
            try:
                code = child.wait()
                break
            except InterruptedError:  # pragma: no cover - wait() retries on EINTR itself
                continue
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        finished = _read_marker(said)
    if code >= 0 and finished:
        return code
    limit = _address_space_limit()
    if code >= 0:
        # A native library that gave up on an allocation ends the process itself (OpenBLAS
        # calls exit(1) after its retries), under a limit that is the only likely cause.
        if limit is not None:
            _error(f"not enough memory: a library gave up (exit status {code}) under an address-space limit of {human_size(limit)} (ulimit -v)")
        else:
            _error(f"the work stopped without saying why (exit status {code}); set {DEBUG_ENV}=1 to run it without this watch")
        return EXIT_INPUT
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    if name in ("SIGINT", "SIGTERM", "SIGHUP"):
        return 128 - code
    if name in _CRASH_SIGNALS:
        if limit is not None or name == "SIGKILL":
            where = f" under an address-space limit of {human_size(limit)} (ulimit -v)" if limit else ""
            _error(f"not enough memory: the work stopped ({name}){where}; try a smaller sheet or a higher limit")
            return EXIT_INPUT
    _error(f"the work stopped unexpectedly ({name}); set {DEBUG_ENV}=1 to run it without this watch")
    return EXIT_INPUT


def _pass_on(child: Any, sig: int) -> None:
    try:
        child.send_signal(sig)
    except OSError:
        pass


def _read_marker(fd: int) -> bool:
    try:
        return os.read(fd, 1) == b"1"
    except OSError:
        return False
    finally:
        os.close(fd)


def _tell_watcher(fd: int | None) -> None:
    if fd is None:
        return
    try:
        os.write(fd, b"1")
        os.close(fd)
    except OSError:
        pass


def _as_watched_child() -> int | None:
    """In the process a watcher started: no core file (it would hold the user's data), no life
    after the watcher's death; returns the descriptor on which to tell it we finished."""
    watcher, _, fd = os.environ.pop(WATCHED_ENV, "").partition(":")
    if not (watcher.isdigit() and fd.isdigit()):
        return None
    try:
        import resource  # noqa: PLC0415

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):
        pass
    from .core.io._launch import die_with_parent  # noqa: PLC0415

    die_with_parent(int(watcher))
    return int(fd)


def _guarded(command: Any) -> int:
    """Run a headless command: every failure becomes one ``error:`` line and a status."""
    try:
        return command()
    except SystemExit:
        raise  # argparse: usage message and exit 2
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except CliError as exc:
        _error(str(exc))
        return EXIT_INPUT
    except Exception as exc:  # noqa: BLE001 - the contract is one line, never a traceback
        if os.environ.get(DEBUG_ENV):
            raise
        from .core.io.reader import ReadError  # noqa: PLC0415

        memory = _out_of_memory(exc)
        if memory is not None:
            _error(memory)
        elif isinstance(exc, (ReadError, ValueError)):
            _error(str(exc))
        else:
            _error(f"unexpected {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 for the traceback)")
        return EXIT_INPUT


def _out_of_memory(exc: BaseException) -> str | None:
    """The ``not enough memory: …`` sentence when ``exc`` means this process (or its reader
    child) ran out of memory, else None. Under an address-space limit (``ulimit -v``) a failed
    allocation can also surface as a library that cannot be mapped, or a child that cannot start."""
    from .core.io.child import ReadOutOfMemory  # noqa: PLC0415

    if isinstance(exc, ReadOutOfMemory):
        what = str(exc)
    elif isinstance(exc, MemoryError):
        what = "the table does not fit in the memory this process may use"
    elif isinstance(exc, ImportError) and "failed to map segment" in str(exc):
        what = f"a library could not be loaded ({Path(str(exc).split(':')[0]).name})"
    elif isinstance(exc, OSError) and exc.errno == errno.ENOMEM:
        what = exc.strerror or "cannot allocate memory"
    elif isinstance(exc, RuntimeError) and "can't start new thread" in str(exc) and _address_space_limit() is not None:
        # A thread's stack is address space too: under a limit, the first thing that finds
        # none left may be the next worker thread rather than an array.
        what = "a worker thread could not be started"
    else:
        return None
    limit = _address_space_limit()
    if limit is not None:
        what += f"; this process may use {human_size(limit)} of address space (ulimit -v)"
    return f"not enough memory: {what}"


def _address_space_limit() -> int | None:
    from .core.errors import address_space_limit  # noqa: PLC0415

    return address_space_limit()


def _cache_problem(note: str) -> str | None:
    """The one line to tell about the model cache after a run, or None when all went as usual
    (a hit, a miss that was stored, --no-cache)."""
    if note.startswith("could not store: "):
        return f"the model was not cached ({note.removeprefix('could not store: ')}); results are unaffected"
    if note.startswith("miss: ") and not note.startswith("miss: damaged entry replaced"):
        return f"the cached model was not used: {note.removeprefix('miss: ').removesuffix('; stored')}"
    return None


def app_command(args: argparse.Namespace) -> int:
    path: Path | None = args.path
    if args.demo:
        from .demo.bundled import demo_workbook_path  # noqa: PLC0415

        path = demo_workbook_path()
    if path is not None and not path.exists():
        _error(f"file not found: {path}")
        return EXIT_INPUT
    from .ui.app import make_app, run_app  # noqa: PLC0415

    # run_app keeps TensorFlow's fd-2 logging off the screen (see tui_detector/ui/terminal.py).
    from .cli_triage import overrides  # noqa: PLC0415

    app = make_app(path, triage=overrides(args))
    run_app(app)
    return app.return_code or EXIT_OK


# -- detect -----------------------------------------------------------------------------------


class StderrProgress:
    """One self-rewriting status line on a terminal; silent when stderr is a file or a pipe."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.active = bool(getattr(stream, "isatty", lambda: False)())
        self._last = 0.0

    def stage(self, message: str) -> None:
        self._show(f"{message}…")

    def training(self, progress: Any) -> None:
        now = time.monotonic()
        if now - self._last < 0.1 and not progress.epoch_end:
            return
        self._last = now
        if progress.preparing is not None:
            self._show(f"preparing ({progress.prepared + 1} of {progress.prepare_steps}): {progress.preparing}…")
            return
        width = 20
        filled = int(round(progress.fraction * width))
        bar = "#" * filled + "." * (width - filled)
        parts = [f"training  epoch {progress.epoch}/{progress.epochs}  [{bar}]"]
        if progress.loss is not None:
            parts.append(f"loss {progress.loss:.4g}")
        if progress.val_loss is not None:
            parts.append(f"val {progress.val_loss:.4g}")
        if progress.eta is not None:
            parts.append(f"ETA {progress.eta:.0f}s")
        self._show("  ".join(parts))

    def _show(self, text: str) -> None:
        if self.active:
            self.stream.write("\r\x1b[K" + text)
            self.stream.flush()

    def done(self, message: str | None = None) -> None:
        if self.active:
            self.stream.write("\r\x1b[K" + (message + "\n" if message else ""))
            self.stream.flush()

    @contextlib.contextmanager
    def cleared_on_error(self) -> Iterator[None]:
        """Clears the status line when the work inside fails; a cancelled training leaves as
        Ctrl-C does (KeyboardInterrupt)."""
        from .core.model.progress import TrainingCancelled  # noqa: PLC0415

        try:
            yield
        except TrainingCancelled:
            self.done()
            raise KeyboardInterrupt from None
        except BaseException:
            self.done()
            raise


def detect_command(args: argparse.Namespace) -> int:
    path: Path = args.path
    _check_input(path)
    if args.output is not None:
        _check_output(args.output, path, "output")
    if args.scored_copy is not None:
        _check_output(args.scored_copy, path, "scored copy")

    from .core.export import build_export, dumps, explained_anomalies, write_export  # noqa: PLC0415
    from .core.pipeline import run_detection  # noqa: PLC0415

    for option, value in (("--model-from", args.model_from), ("--model-dir", args.model_dir)):
        if value is not None and not value.exists():
            raise CliError(f"{option}: not found: {value}")
    if args.column_map and args.model_from is None and args.model_dir is None:
        raise CliError("--column-map applies only with --model-from or --model-dir")

    from .cli_triage import prepare as prepare_triage  # noqa: PLC0415

    triage = prepare_triage(args)
    progress = StderrProgress(sys.stderr)
    settings = _settings(args)
    _import_model_libraries()
    with progress.cleared_on_error():
        if args.model_from is not None or args.model_dir is not None:
            run = _run_with_baseline(args, settings, progress)
        else:
            progress.stage(f"reading {path.name}")
            sheet = _resolve_sheet(path, args.sheet)
            run = run_detection(path, settings, sheet=sheet, on_stage=progress.stage, on_progress=progress.training)
        from .cli_review import finish_session, open_session  # noqa: PLC0415

        session = open_session(run, args)
        progress.stage("explaining")
        anomalies = explained_anomalies(run)
        listed = finish_session(session, run, anomalies, args)
        if triage is not None:
            from .cli_triage import triage_listed  # noqa: PLC0415

            triage_summary = triage_listed(triage, run, session, listed, progress, args.triage_top)
        document = build_export(run, all_rows=args.all_rows, anomalies=listed)
        document["review"] = session.summary()
        if triage is not None:
            document["triage"] = triage_summary
        if args.scored_copy is not None:
            from .core.scored_copy import write_scored_copy  # noqa: PLC0415

            progress.stage(f"writing {args.scored_copy.name}")
            _write(lambda: write_scored_copy(run, anomalies, args.scored_copy, overwrite=True), args.scored_copy)
        if args.output is not None:
            progress.stage(f"writing {args.output.name}")
            _write(lambda: write_export(document, args.output, overwrite=True), args.output)

    rows = len(run.detection.scores)
    where = f" → {args.output}" if args.output is not None else ""
    cached = ", model from cache" if run.from_cache else ""
    if run.drift is not None:
        cached += f"; {run.drift['verdict']}"
    from .cli_review import session_notes  # noqa: PLC0415

    progress.done()
    for line in session_notes(session, _cache_problem(run.cache_note)):
        _note(line)
    progress.done(f"{document['anomaly_count']:,} anomalous rows of {rows:,}{cached}{where}")
    if args.output is None:
        _write_stdout(dumps(document))
    return EXIT_OK


def _import_model_libraries() -> None:
    """Under an address-space limit, import scikit-learn (and the SciPy it loads) before the
    table takes the memory.

    SciPy's native start-up can spin for ever instead of failing when the table has left it no
    room; imported first, it fits, and the table's own allocations fail later with a
    MemoryError that becomes the ``not enough memory`` line. Every model needs it, so this
    only moves the import; without a limit it stays where it was, and a file refused at once
    is refused without waiting for it.
    """
    if _address_space_limit() is not None:
        import sklearn.ensemble  # noqa: F401, PLC0415


def _settings(args: argparse.Namespace) -> Any:
    from .core.pipeline import DetectionSettings  # noqa: PLC0415

    percentile = args.threshold_percentile
    if percentile is None:
        percentile = PRESETS[args.preset or DEFAULT_PRESET]
    return DetectionSettings(
        model=args.model,
        threshold_percentile=percentile,
        epochs=args.epochs,
        seed=args.seed,
        use_cache=not args.no_cache,
        keep_totals=args.keep_totals,
    )


def _run_with_baseline(args: argparse.Namespace, settings: Any, progress: StderrProgress) -> Any:
    from .core.pipeline import load_source, model_from_dir, obtain_model, score_with_baseline  # noqa: PLC0415

    if args.model_dir is not None:
        progress.stage(f"loading the model in {args.model_dir}")
        model = model_from_dir(args.model_dir)
    else:
        baseline: Path = args.model_from
        progress.stage(f"reading the baseline {baseline.name}")
        source = load_source(baseline, _resolve_sheet(baseline, args.baseline_sheet))
        model = obtain_model(baseline, source, settings, on_stage=progress.stage, on_progress=progress.training)
    progress.stage(f"reading {args.path.name}")
    source = load_source(args.path, _resolve_sheet(args.path, args.sheet))
    return score_with_baseline(
        args.path, source, model, settings.threshold_percentile, column_map=dict(args.column_map), on_stage=progress.stage,
        keep_totals=settings.keep_totals,
    )


def train_command(args: argparse.Namespace) -> int:
    path: Path = args.path
    _check_input(path)
    if args.save is not None and args.save.exists() and not (args.save / "manifest.json").exists():
        if not args.save.is_dir() or any(args.save.iterdir()):
            raise CliError(f"--save {args.save} exists and is not a saved model; choose an empty or new folder")
    from .core.pipeline import load_source, obtain_model, save_model  # noqa: PLC0415

    progress = StderrProgress(sys.stderr)
    settings = _settings(args)
    _import_model_libraries()
    with progress.cleared_on_error():
        progress.stage(f"reading {path.name}")
        source = load_source(path, _resolve_sheet(path, args.sheet))
        model = obtain_model(path, source, settings, on_stage=progress.stage, on_progress=progress.training)
        if args.save is not None:
            progress.stage(f"saving to {args.save}")
            _write(lambda: save_model(model, args.save), args.save)
    progress.done()
    detector = model.detector
    problem = _cache_problem(model.cache_note)
    if problem is not None:
        _note(problem)
    where = "from the cache" if model.from_cache else ("trained and cached" if settings.use_cache else "trained")
    if model.cache_note.startswith("could not store"):
        where = "trained (not cached)"
    saved = f"; saved to {args.save}" if args.save is not None else ""
    print(
        f"{detector.model_kind_} model for {path.name} ({model.trained_on['rows']:,} rows, "
        f"{len(detector.columns_used)} columns used): {where}{saved}"
    )
    return EXIT_OK


# -- cache ------------------------------------------------------------------------------------


def cache_command(args: argparse.Namespace) -> int:
    from .core.cache import ModelCache  # noqa: PLC0415

    cache = ModelCache()
    if args.action == "path":
        print(cache.root)
        return EXIT_OK
    if args.action == "clear":
        count, size = cache.clear()
        print(f"removed {count} cached model{'s' if count != 1 else ''} ({human_size(size)}) from {cache.root}")
        return EXIT_OK
    entries = cache.entries()
    if args.json:
        print(
            json.dumps(
                {
                    "path": str(cache.root),
                    "max_bytes": cache.max_bytes,
                    "total_bytes": sum(e.size_bytes for e in entries),
                    "entries": [
                        {
                            "key": e.key,
                            "source_name": e.source_name,
                            "source_sha256": e.source_sha256,
                            "sheet": e.sheet,
                            "model_kind": e.model_kind,
                            "created": e.created,
                            "last_used": _iso(e.last_used),
                            "size_bytes": e.size_bytes,
                            "readable": e.readable,
                            "newer": e.newer,
                        }
                        for e in entries
                    ],
                },
                indent=2,
            )
        )
        return EXIT_OK
    if not entries:
        print(f"no cached models in {cache.root}")
        return EXIT_OK
    header = f"{'key':<12}  {'size':>9}  {'last used':<16}  {'model':<11}  source"
    print(header)
    for e in entries:
        source = e.source_name or "?"
        if e.sheet:
            source += f" [{e.sheet}]"
        if e.newer:
            source = "(written by a newer anomaly-tui: kept)"
        elif not e.readable:
            source = "(unreadable: removed on next use)"
        used = dt.datetime.fromtimestamp(e.last_used).strftime("%Y-%m-%d %H:%M")
        print(f"{e.key[:12]:<12}  {human_size(e.size_bytes):>9}  {used:<16}  {(e.model_kind or '?'):<11}  {_printable(source)}")
    total = sum(e.size_bytes for e in entries)
    print(f"{len(entries)} model{'s' if len(entries) != 1 else ''}, {human_size(total)} of {human_size(cache.max_bytes)} in {cache.root}")
    return EXIT_OK


def _iso(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(microsecond=0).isoformat()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
