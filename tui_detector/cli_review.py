"""The review store on the command line, and its part in ``detect``.

    anomaly-tui review set FILE ROW... --as confirmed|dismissed|expected [--note TEXT]
                                       [--suppress COLUMN [--until YYYY-MM-DD]]
    anomaly-tui review set FILE ROW... --clear
    anomaly-tui review list FILE [--json]
    anomaly-tui review export FILE -o reviews.csv|reviews.json
    anomaly-tui runs list [FILE] [--json]
    anomaly-tui runs show RUN [--json]

ROW is a ``row_index`` as ``detect`` reports it (the table as read, totals rows left out unless
``--keep-totals``). Verdicts are kept against row fingerprints, so they find their rows again in
a re-sorted copy and in next month's file with the same columns.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from pathlib import Path
from typing import Any

from .cli_common import CliError, check_input, check_output, note, printable, resolve_sheet, whole_number, write_or_fail, write_stdout

EXIT_OK = 0

VERDICT_CHOICES = ("confirmed", "dismissed", "expected")


def _row_index(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a row is its row_index (a whole number), not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a row_index is 0 or more, not {text}")
    return value


def _run_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a run is its number (see 'anomaly-tui runs list'), not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"a run number is 1 or more, not {text}")
    return value


def _limit(text: str) -> int:
    # A count, not a run: told apart from _run_id's "a run is its number".
    return whole_number(text, 1)


def _review_output(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in (".csv", ".json"):
        raise argparse.ArgumentTypeError(f"must end in .csv or .json, not {text!r}")
    return path


def _table_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sheet", metavar="NAME|INDEX", help="sheet name, or its 0-based number (default: the first visible sheet)")
    parser.add_argument("--keep-totals", action="store_true", help="count rows as detect --keep-totals does (totals rows kept)")


def build_review_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anomaly-tui review",
        description="Record and read the verdicts on a file's rows (kept in the review store beside the model cache).",
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="set|list|export")
    setting = sub.add_parser("set", help="record a verdict for rows (by row_index)")
    setting.add_argument("path", type=Path, help="the spreadsheet or CSV file")
    setting.add_argument("rows", nargs="+", type=_row_index, metavar="ROW", help="row_index as detect reports it")
    how = setting.add_mutually_exclusive_group(required=True)
    how.add_argument("--as", dest="verdict", choices=VERDICT_CHOICES, help="confirmed (a real anomaly), dismissed (not one), expected (odd but known and benign)")
    how.add_argument("--clear", action="store_true", help="take the rows' verdicts back (and the suppressions they brought)")
    setting.add_argument("--note", metavar="TEXT", help="a note kept with the verdict")
    setting.add_argument("--suppress", metavar="COLUMN", help="also cover every row (here and in later files) whose COLUMN holds the same value as this row's")
    setting.add_argument("--until", metavar="YYYY-MM-DD", help="the suppression's last day (default: for good)")
    setting.add_argument("--json", action="store_true", help="machine-readable output")
    _table_options(setting)
    listing = sub.add_parser("list", help="the file's reviewed rows")
    listing.add_argument("path", type=Path, help="the spreadsheet or CSV file")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    _table_options(listing)
    export = sub.add_parser("export", help="write the file's reviewed rows to .csv or .json")
    export.add_argument("path", type=Path, help="the spreadsheet or CSV file")
    export.add_argument("-o", "--output", type=_review_output, required=True, metavar="FILE.csv|FILE.json", help="where to write (replaced if it exists)")
    _table_options(export)
    return parser


def build_runs_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anomaly-tui runs", description="Past runs of detect and of the app, from the review store.")
    sub = parser.add_subparsers(dest="action", required=True, metavar="list|show")
    listing = sub.add_parser("list", help="one line per run, newest first")
    listing.add_argument("path", nargs="?", type=Path, help="only runs on files with this file's columns")
    listing.add_argument("--limit", type=_limit, default=50, metavar="N", help="at most N runs (default 50)")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    _table_options(listing)
    show = sub.add_parser("show", help="one run and its anomalies, with their verdicts now")
    show.add_argument("run", type=_run_id, metavar="RUN", help="the run's number")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def command(args: list[str]) -> int:
    """``review …`` or ``runs …`` (``args`` starts with the command's name)."""
    if args[0] == "review":
        return review_command(build_review_parser().parse_args(args[1:]))
    return runs_command(build_runs_parser().parse_args(args[1:]))


# -- shared -----------------------------------------------------------------------------------


def _store() -> Any:
    from .core.store.db import ReviewStore  # noqa: PLC0415

    return ReviewStore()


def _say_notes(store: Any) -> None:
    for message in store.notes:
        note(message)
    store.notes.clear()


def _read_frame(args: argparse.Namespace) -> Any:
    """The table as detect scores it: its rows in the same positions (totals left out)."""
    from .core.pipeline import load_source, without_totals  # noqa: PLC0415

    check_input(args.path)
    source = load_source(args.path, resolve_sheet(args.path, args.sheet))
    (loaded, _), _ = without_totals(source, args.keep_totals)
    return loaded


def _store_call(action: Any) -> Any:
    from .core.store.db import StoreError  # noqa: PLC0415

    try:
        return action()
    except StoreError as exc:
        raise CliError(str(exc)) from None


def _review_records(loaded: Any, state: Any) -> list[dict[str, Any]]:
    excel_rows = loaded.excel_rows
    keys = state.keys
    records = []
    for row in sorted({*state.verdicts, *state.suppressed}):
        verdict = state.review_of(row)
        key = str(keys[row]) if keys is not None else state.fingerprinter.keys(loaded.frame, [row])[0]
        records.append({
            "row_index": row,
            "excel_row": None if excel_rows is None else int(excel_rows[row]),
            "fingerprint": key,
            **verdict.to_json(),
        })
    return records


# -- review -----------------------------------------------------------------------------------


def review_command(args: argparse.Namespace) -> int:
    if args.action == "export":
        check_input(args.path)
        check_output(args.output, args.path, "output")
    if args.action == "set":
        if args.clear and (args.note is not None or args.suppress is not None or args.until is not None):
            raise CliError("--clear takes no --note, --suppress or --until")
        if args.until is not None and args.suppress is None:
            raise CliError("--until applies to a suppression: give --suppress COLUMN too")
    loaded = _read_frame(args)
    from .core.store import review  # noqa: PLC0415
    from .core.store.fingerprint import Fingerprinter  # noqa: PLC0415

    frame = loaded.frame
    store = _store()
    fp = Fingerprinter.for_frame(frame)
    if args.action == "set":
        return _review_set(args, loaded, store, fp)
    state = _store_call(lambda: review.review_state(store, frame, fp))
    _say_notes(store)
    records = _review_records(loaded, state)
    document = {
        "file": str(args.path),
        "sheet": loaded.report.sheet,
        "dataset": fp.dataset,
        "id_column": fp.id_column,
        "reviews": records,
        "verdicts_for_other_rows": state.unmatched,
        "suppressions": [s.to_json() | {"verdict": s.verdict, "note": s.note, "when": s.when} for s in _store_call(lambda: review.active_scopes(store, fp.dataset))],
    }
    if args.action == "export":
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n" if args.output.suffix.lower() == ".json" else _csv(records)
        from .core.atomic import write_bytes_atomic  # noqa: PLC0415

        write_or_fail(lambda: write_bytes_atomic(args.output, text.encode("utf-8", "surrogatepass"), overwrite=True), args.output)
        print(f"{len(records):,} reviewed row{'s' if len(records) != 1 else ''} of {args.path.name} → {args.output}")
        return EXIT_OK
    if args.json:
        write_stdout(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        return EXIT_OK
    if not records:
        print(f"no reviewed rows in {printable(args.path.name)}")
    else:
        print(f"{'row':>7}  {'excel':>6}  {'verdict':<10}  {'when':<25}  note")
        for r in records:
            remark = r["note"] or ""
            if r["suppressed_by"] is not None:
                scope = r["suppressed_by"]
                until = f" until {scope['until']}" if scope["until"] else ""
                remark = f"[suppressed: {scope['column']} = {scope['value']}{until}] {remark}".rstrip()
            excel = "" if r["excel_row"] is None else r["excel_row"]
            print(f"{r['row_index']:>7}  {excel:>6}  {r['verdict']:<10}  {r['when']:<25}  {printable(remark)}")
    if state.unmatched:
        print(f"{state.unmatched:,} verdict{'s' if state.unmatched != 1 else ''} on rows not in this file")
    return EXIT_OK


def _review_set(args: argparse.Namespace, loaded: Any, store: Any, fp: Any) -> int:
    from .core.store import review  # noqa: PLC0415

    frame = loaded.frame
    name = args.path.name
    if args.clear:
        cleared = _store_call(lambda: review.clear_verdicts(store, frame, args.rows, file_name=name, fingerprinter=fp))
        _say_notes(store)
        if args.json:
            write_stdout(json.dumps({"file": str(args.path), "cleared": cleared}) + "\n")
        else:
            print(f"cleared the verdict{'s' if cleared != 1 else ''} of {cleared:,} row{'s' if cleared != 1 else ''} of {printable(name)}")
        return EXIT_OK
    written = _store_call(
        lambda: review.set_verdicts(
            store, frame, args.rows, args.verdict, note=args.note, file_name=name,
            suppress_column=args.suppress, until=args.until, fingerprinter=fp,
        )
    )
    _say_notes(store)
    excel_rows = loaded.excel_rows
    if args.json:
        rows = [
            {"row_index": v.row_index, "excel_row": None if excel_rows is None else int(excel_rows[v.row_index]), "fingerprint": v.fingerprint, **v.to_json()}
            for v in written
        ]
        write_stdout(json.dumps({"file": str(args.path), "rows": rows}, indent=2, ensure_ascii=False) + "\n")
        return EXIT_OK
    listed = ", ".join(str(v.row_index) for v in written[:10]) + (", …" if len(written) > 10 else "")
    print(f"{args.verdict}: {len(written):,} row{'s' if len(written) != 1 else ''} of {printable(name)} (row_index {listed})")
    for scope in {v.scope.id: v.scope for v in written if v.scope is not None}.values():
        covered = int((fp.cells(frame, scope.column) == scope.value).sum())
        until = f" until {scope.until}" if scope.until else ""
        print(f"suppressed{until}: every row where {printable(scope.column)} = {printable(scope.value)} ({covered:,} in this file)")
    return EXIT_OK


def _csv(records: list[dict[str, Any]]) -> str:
    from .core.scored_copy import neutralise  # noqa: PLC0415

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["row_index", "excel_row", "fingerprint", "verdict", "note", "when", "suppressed_column", "suppressed_value", "suppressed_until"])
    for r in records:
        scope = r["suppressed_by"] or {}
        cells = [r["row_index"], r["excel_row"], r["fingerprint"], r["verdict"], r["note"], r["when"], scope.get("column"), scope.get("value"), scope.get("until")]
        writer.writerow(["" if c is None else (neutralise(c) if isinstance(c, str) else c) for c in cells])
    return buffer.getvalue()


# -- runs -------------------------------------------------------------------------------------


def runs_command(args: argparse.Namespace) -> int:
    from .core.store import review  # noqa: PLC0415

    store = _store()
    if args.action == "show":
        summary, anomalies = _store_call(lambda: review.get_run(store, args.run))
        _say_notes(store)
        if args.json:
            write_stdout(json.dumps({"run": summary.to_json(), "anomalies": anomalies}, indent=2, ensure_ascii=False) + "\n")
            return EXIT_OK
        sheet = f" [{summary.sheet}]" if summary.sheet else ""
        print(f"run {summary.id}: {printable(summary.file_name)}{sheet}, {summary.created} ({summary.origin})")
        print(f"  {summary.path}")
        print(f"  {summary.rows:,} rows, {summary.anomaly_count:,} anomalies ({summary.reviewed:,} reviewed"
              + (f", {summary.new:,} new since the run before" if summary.new is not None else "") + ")")
        print(f"  model {summary.model_kind or '?'}, threshold {summary.threshold_percentile:g}th percentile, sha256 {summary.sha256[:16]}…")
        if anomalies:
            print(f"{'rank':>5}  {'row':>7}  {'score':>9}  {'verdict':<10}  top features")
        for a in anomalies:
            verdict = a["review"]["verdict"] if a["review"] else "-"
            print(f"{a['rank'] + 1:>5}  {a['row_index']:>7}  {a['score']:>9.4g}  {verdict:<10}  {printable(', '.join(a['top_features']))}")
        return EXIT_OK
    dataset = None
    if args.path is not None:
        from .core.store.fingerprint import dataset_key  # noqa: PLC0415

        dataset = dataset_key(_read_frame(args).frame)
    runs = _store_call(lambda: review.list_runs(store, dataset=dataset, limit=args.limit))
    _say_notes(store)
    if args.json:
        write_stdout(json.dumps({"store": str(store.path), "runs": [r.to_json() for r in runs]}, indent=2, ensure_ascii=False) + "\n")
        return EXIT_OK
    if not runs:
        print(f"no runs in {store.path}")
        return EXIT_OK
    print(f"{'run':>5}  {'when':<25}  {'origin':<6}  {'rows':>9}  {'anomalies':>9}  {'reviewed':>8}  {'new':>6}  file")
    for r in runs:
        sheet = f" [{r.sheet}]" if r.sheet else ""
        new = "-" if r.new is None else f"{r.new:,}"
        print(f"{r.id:>5}  {r.created:<25}  {r.origin:<6}  {r.rows:>9,}  {r.anomaly_count:>9,}  {r.reviewed:>8,}  {new:>6}  {printable(r.file_name + sheet)}")
    return EXIT_OK


# -- detect -----------------------------------------------------------------------------------


def add_detect_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("review store")
    group.add_argument("--include-reviewed", action="store_true", help="keep dismissed and suppressed rows in 'anomalies' (each says its review)")
    group.add_argument("--no-feedback", action="store_true", help="rank by the model's scores alone, ignoring the verdicts")


def open_session(run: Any, args: argparse.Namespace) -> Any:
    """The run's review session (verdicts found, unreviewed rows re-ranked)."""
    from .core.store.session import ReviewSession  # noqa: PLC0415

    return ReviewSession(run, feedback=not args.no_feedback)


def finish_session(session: Any, run: Any, anomalies: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Record the run; the anomalies to list (with their ``review``)."""
    listed = session.annotate(anomalies, include_reviewed=args.include_reviewed)
    session.record(run, anomalies, origin="detect")
    session.mark_recurring(listed)
    session.store.close()
    return listed


def session_notes(session: Any, cache_problem: str | None) -> list[str]:
    """The ``note:`` lines: a store that failed for the same reason as the cache is one line."""
    lines = list(session.notes)
    if session.problem is not None:
        if cache_problem is not None:
            return [*lines, f"{cache_problem}; the run was not recorded in the review store either"]
        lines.append(f"the run was not recorded in the review store ({session.problem}); results are unaffected")
    elif cache_problem is not None:
        lines.append(cache_problem)
    return lines

