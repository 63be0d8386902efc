"""`anomaly-tui detect` over a folder of odd, real-world-like spreadsheets, as a new user would.

Usage (from the repository root):

    python benchmarks/odd_files.py [--folder /tmp/odd_files] [--timeout 180] [--out benchmarks/ODD_FILES.md]

Writes about 25 files that look like what people really get sent (title rows, merged headers,
European CSV, UTF-16 "Unicode text" exports, lock files, encrypted and truncated workbooks, HTML
saved as .xls, a far-away stray cell, formulas without values ...) into ``--folder`` (outside
the repository), then runs ``anomaly-tui detect FILE --epochs 2 -o OUT`` on each in its own
process with a private model cache, and records the exit status, the last line of stderr and
the wall time. The contract checked for every file: exit 0 or 1; on 1, exactly one line of
stderr starts with ``error:``; never a traceback; never past the timeout. Any breach is marked
FAIL in the table and makes the script exit 1.

A second set, "benign but unusual" (:func:`build_benign`), holds valid files other readers open
(parts away from their default paths, a UTF-16 customXml item, a whole-sheet dimension on a
small sheet, pivot caches, a VBA project, external links, odfpy-written ODS, CSV with a BOM,
semicolons, CRLF or CR line ends). For these the contract is stricter: exit 0; a refusal is a
FAIL, and the target is none.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The hostile-input suite already builds raw xlsx parts and a minimal OLE2 container; reuse
# those builders so the benchmark and the tests exercise the same shapes.
from tests.raw_files import (  # noqa: E402
    BASE_ROWS,
    WB,
    add_members,
    cfb,
    custom_xml_item,
    odfpy_sheet,
    raw_xlsx,
    relocate_xlsx,
    sheet_xml,
    with_package_parts,
)

ROWS = 240


def _rng() -> np.random.Generator:
    return np.random.default_rng(7)


def _table(n: int = ROWS) -> list[list]:
    """A plausible orders table with a few planted oddities."""
    rng = _rng()
    start = dt.datetime(2025, 1, 1)
    rows = []
    for i in range(n):
        qty = int(rng.integers(1, 20))
        price = round(float(rng.lognormal(3, 0.4)), 2)
        rows.append([f"ORD-{i:05d}", ["north", "south", "east", "west"][i % 4], qty, price,
                     round(qty * price, 2), start + dt.timedelta(hours=int(rng.integers(0, 4000)))])
    rows[17][4] = 99_999.0
    rows[40][1] = "atlantis"
    return rows


HEADER = ["order", "region", "qty", "price", "total", "ordered_at"]


def _xlsx(path: Path, rows: list[list], *, title: list[list] | None = None, merge: tuple = (),
          hidden_first: bool = False, epoch1904: bool = False) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    if hidden_first:
        ws.title = "old"
        ws.append(["junk"])
        ws.sheet_state = "hidden"
        ws = wb.create_sheet("Data")
    for r in title or []:
        ws.append(r)
    for r in rows:
        ws.append(r)
    for rng in merge:
        ws.merge_cells(rng)
    if epoch1904:
        from openpyxl.utils.datetime import CALENDAR_MAC_1904

        wb.epoch = CALENDAR_MAC_1904
    wb.save(path)


def _csv_text(rows: list[list], delimiter: str = ",", decimal_comma: bool = False) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    for r in rows:
        out = []
        for v in r:
            if isinstance(v, float) and decimal_comma:
                v = f"{v:.2f}".replace(".", ",")
            elif isinstance(v, dt.datetime):
                v = v.strftime("%d.%m.%Y %H:%M") if decimal_comma else v.isoformat(sep=" ")
            out.append(v)
        w.writerow(out)
    return buf.getvalue()


def _recorder(folder: Path, made: list[tuple[Path, str]]):  # noqa: ANN202 - a small closure
    """``add(name, what)``: the path to write in ``folder``, recorded with what it is."""

    def add(name: str, what: str) -> Path:
        path = folder / name
        made.append((path, what))
        return path

    return add


def build(folder: Path) -> list[tuple[Path, str]]:
    """Write every odd file; returns (path, what it is)."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    data = [HEADER] + _table()
    made: list[tuple[Path, str]] = []
    add = _recorder(folder, made)

    _xlsx(add("title_rows.xlsx", "report title, date line and a blank row above the header"), data,
          title=[["Quarterly orders report"], ["prepared 2025-04-01 by finance"], []])
    merged = [["", "where", "amounts", "", "", "when"], HEADER] + _table()
    _xlsx(add("merged_two_row_header.xlsx", "two header rows, merged group cells on top"), merged,
          merge=("C1:E1",))
    add("semicolon_decimal_comma.csv", "European Excel: ';' separated, decimal commas, dd.mm.yyyy").write_text(
        _csv_text(data, ";", decimal_comma=True), encoding="utf-8")
    add("utf16_unicode_text.csv", "Excel 'Unicode Text' export: UTF-16 with BOM, tab separated").write_bytes(
        _csv_text(data, "\t").encode("utf-16"))
    cp = [["Kunde", "Stadt", "Betrag €"]] + [[f"Müller {i}", "Köln" if i % 2 else "Zürich", f"{i * 1.5:.2f}"] for i in range(150)]
    add("cp1252_legacy.csv", "Windows-1252 text with umlauts and the euro sign").write_bytes(
        _csv_text(cp).encode("cp1252"))
    add("empty.xlsx", "0-byte .xlsx (failed download)").write_bytes(b"")
    add("empty.csv", "0-byte .csv").write_bytes(b"")
    add("~$budget.xlsx", "Excel's owner/lock file next to an open workbook").write_bytes(
        b"\x05alice" + b" " * 48 + b"\x05\x00a\x00l\x00i\x00c\x00e\x00" + bytes(100))
    add("password_protected.xlsx", "encrypted workbook (OLE2 container with EncryptionInfo)").write_bytes(
        cfb({"EncryptionInfo": b"\x04\x00\x04\x00" + bytes(60), "EncryptedPackage": bytes(2000)}))
    good = folder / "_good.xlsx"
    _xlsx(good, data)
    blob = good.read_bytes()
    good.unlink()
    add("truncated_download.xlsx", "the first 60% of a workbook (interrupted download)").write_bytes(
        blob[: len(blob) * 3 // 5])
    add("csv_renamed_to.xlsx", "comma-separated text saved with an .xlsx name").write_text(
        _csv_text(data), encoding="utf-8")
    far = BASE_ROWS + '<row r="900000"><c r="XFD900000"><v>1</v></c></row>'
    raw_xlsx(add("stray_far_cell.xlsx", "a stray value at XFD900000 (crashes calamine unguarded)"), sheet_xml(far))
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["qty", "price", "total"])
    rng = _rng()
    for i in range(2, 202):
        ws.append([int(rng.integers(1, 9)), float(rng.integers(5, 50)), f"=A{i}*B{i}"])
    wb.save(add("formulas_without_values.xlsx", "written by a script: formulas saved with no computed value"))
    _xlsx(add("hidden_first_sheet.xlsx", "a hidden scratch sheet before the data sheet"), data, hidden_first=True)
    errs = [HEADER[:5]] + [r[:5] for r in _table()]
    errs[5][3], errs[9][4], errs[12][2] = "#DIV/0!", "#N/A", "n/a"
    errs[20][2] = "TBD"
    _xlsx(add("error_cells_and_na.xlsx", "#DIV/0!, #N/A, 'n/a' and 'TBD' among numbers"), errs)
    bom = [["id", "comment", "amount"]] + [[i, f"line one\nline two {i}" if i % 50 == 0 else f"ok {i}", i * 2.5] for i in range(200)]
    add("bom_crlf_multiline.csv", "UTF-8 BOM, CRLF, quoted fields with line breaks").write_bytes(
        b"\xef\xbb\xbf" + _csv_text(bom).encode("utf-8"))
    rag = _csv_text(data[:150]).splitlines()
    rag[10] += ",extra,fields"
    rag[20] = rag[20].replace(",", ",\x00", 1)
    add("ragged_with_nul.csv", "a row with extra fields and a NUL byte").write_text("\n".join(rag) + "\n", encoding="utf-8")
    html = "<html><body><table><tr>" + "".join(f"<th>{h}</th>" for h in HEADER[:5]) + "</tr>" + "".join(
        "<tr>" + "".join(f"<td>{v}</td>" for v in r[:5]) + "</tr>" for r in _table(50)) + "</table></body></html>"
    add("bank_export_html.xls", "an HTML table saved with an .xls name (common bank export)").write_text(html)
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Export")
    datefmt = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for r, row in enumerate(data):
        for c, v in enumerate(row):
            sheet.write(r, c, v, datefmt) if isinstance(v, dt.datetime) else sheet.write(r, c, v)
    book.save(str(add("legacy_biff8.xls", "legacy Excel 97-2003 .xls with dates")))
    _xlsx(add("header_only.xlsx", "a header row and no data"), [HEADER])
    add("one_row.csv", "a header and a single data row").write_text(_csv_text(data[:2]), encoding="utf-8")
    add("text_only.csv", "only identifiers and free text, no numbers").write_text(
        _csv_text([["ticket", "subject"]] + [[f"T-{i}", f"printer on floor {i % 7} jams again"] for i in range(120)]),
        encoding="utf-8")
    ids = [["account", "opened", "balance"]] + [
        [str(9_007_199_254_740_993 + i * 7), dt.datetime(2020, 1, 1) + dt.timedelta(days=i), 100.0 + i % 13] for i in range(150)]
    _xlsx(add("big_ids_1904_dates.xlsx", "account numbers beyond 2^53 (as text) and the 1904 date system"), ids, epoch1904=True)
    wide = [[f"m{j}" for j in range(60)]] + [[float(i * j % 17) for j in range(60)] for i in range(8)]
    add("wide_few_rows.csv", "60 columns, 8 rows").write_text(_csv_text(wide), encoding="utf-8")
    const = [["k", "always_5", "blank", "v"]] + [[f"k{i}", 5, None, float(i % 11)] for i in range(150)]
    _xlsx(add("constant_and_empty_columns.xlsx", "a constant column and an empty headed column"), const)
    mark = [["[@click=app.quit]", "[/]", "value"]] + [
        [["[bold]x", "[red]y"][i % 2], "[link=http://x]y", float((i * 7) % 23)] for i in range(120)]
    add("markup_in_headers.csv", "Rich markup in headers and cells").write_text(_csv_text(mark), encoding="utf-8")
    import pandas as pd

    pd.DataFrame(_table(150), columns=HEADER).to_excel(add("libreoffice.ods", "OpenDocument spreadsheet"),
                                                        index=False, engine="odf")
    raw_xlsx(add("zip_bomb.xlsx", "40 MB of sheet XML in a ~40 KB zip"), sheet_xml(BASE_ROWS + " " * (40 << 20)))
    raw_xlsx(add("xxe_entity.xlsx", "an XML external entity pointing at /etc/passwd"),
             sheet_xml(BASE_ROWS, prolog='<!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]>'),
             members={"xl/workbook.xml": WB})
    return made


def build_benign(folder: Path) -> list[tuple[Path, str]]:
    """Write the benign-but-unusual set: valid files other readers open, arranged the way some
    producers arrange them. Target: not one refused (exit 0 for every file)."""
    import re
    import zipfile

    folder.mkdir(parents=True, exist_ok=True)
    data = [HEADER] + _table()
    made: list[tuple[Path, str]] = []
    add = _recorder(folder, made)

    plain = folder / "_plain.xlsx"
    _xlsx(plain, data)
    relocate_xlsx(plain, add("relocated_parts.xlsx", "workbook part at wb/book.xml, sheets in data/: found only through _rels/.rels"))
    add_members(plain, add("utf16_custom_xml.xlsx", "a Power Query customXml item in UTF-16 (as Excel writes it)"),
                {"customXml/item1.xml": custom_xml_item("utf-16")})
    with zipfile.ZipFile(plain) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml")
    claimed = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', sheet)
    add_members(plain, add("whole_sheet_dimension.xlsx", "declares A1:XFD1048576 (17 G cells), holds 241 rows"),
                {"xl/worksheets/sheet1.xml": claimed})
    with_package_parts(plain, add("pivot_cache.xlsx", "a pivot cache definition and its records"), {"pivot_cache"})
    with_package_parts(plain, add("macros.xlsm", "a macro workbook: vbaProject.bin, an opaque compound file"), {"vba"})
    with_package_parts(plain, add("external_link.xlsx", "a link to another workbook (file:///C:/finance/rates.xlsx)"),
                       {"external_link"})
    everything = with_package_parts(plain, folder / "_all.xlsm", {"pivot_cache", "vba", "external_link"})
    add_members(everything, folder / "_all2.xlsm", {"customXml/item1.xml": custom_xml_item("utf-16"),
                                                      "xl/worksheets/sheet1.xml": claimed})
    relocate_xlsx(folder / "_all2.xlsm", add("all_of_the_above.xlsm", "every part above at once, relocated"))
    for tmp in ("_plain.xlsx", "_all.xlsm", "_all2.xlsm"):
        (folder / tmp).unlink()
    rows = _table(150)
    odfpy_sheet(add("odfpy_cells.ods", "ODS written cell by cell with odfpy (typed cells, text:p)"),
                HEADER[:5], [r[:5] for r in rows])
    odfpy_sheet(add("libreoffice_repeated.ods", "ODS with LibreOffice's trailing repeated blank rows and columns"),
                HEADER[:5], [r[:5] for r in rows], repeated_blank=True)
    add("bom_semicolon_crlf.csv", "UTF-8 BOM, ';' separated, CRLF line ends").write_bytes(
        b"\xef\xbb\xbf" + _csv_text(data, ";").encode("utf-8"))
    add("tab_separated.tsv", "tab separated .tsv, LF line ends").write_text(
        _csv_text(data, "\t").replace("\r\n", "\n"), encoding="utf-8")
    add("no_final_newline.csv", "the last line has no line end").write_text(
        _csv_text(data).rstrip("\r\n"), encoding="utf-8")
    add("quoted_everything.csv", "every field quoted, a comma inside some").write_text(
        "\r\n".join(",".join(f'"{v}"' if i != 1 or n % 9 else f'"{v}, inc."' for i, v in enumerate(r))
                     for n, r in enumerate(data)) + "\r\n", encoding="utf-8")
    add("cr_only_line_ends.csv", "old Mac line ends (CR only)").write_text(
        _csv_text(data).replace("\r\n", "\r"), encoding="utf-8")
    return made


def run_one(path: Path, out: Path, data_dir: Path, timeout: float) -> dict:
    env = {**os.environ, "ANOMALY_TUI_DATA_DIR": str(data_dir), "PYTHONWARNINGS": "ignore"}
    cmd = ["anomaly-tui", "detect", str(path), "--epochs", "2", "-o", str(out)]
    if shutil.which("anomaly-tui") is None:
        cmd = [sys.executable, "-m", "tui_detector"] + cmd[1:]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=path.parent)
        rc, err = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc, err = None, (exc.stderr or b"").decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
    wall = time.perf_counter() - start
    lines = [ln for ln in err.splitlines() if ln.strip()]
    error_lines = [ln for ln in lines if ln.startswith("error:")]
    problems = []
    if rc is None:
        problems.append(f"no exit within {timeout:.0f} s")
    elif rc not in (0, 1):
        problems.append(f"exit {rc}")
    if "Traceback" in err:
        problems.append("traceback")
    if rc == 1 and len(error_lines) != 1:
        problems.append(f"{len(error_lines)} error: lines")
    if rc == 0 and not out.exists():
        problems.append("no output written")
    read = ""
    if rc == 0 and out.exists():
        # What a user would check first: did it read the table they meant?
        doc = json.loads(out.read_text(encoding="utf-8"))
        src, diag = doc["source"], doc["diagnostics"]
        read = (f"{src['rows']} rows x {len(src['columns'])} cols, header row {src.get('header_row')}, "
                f"{len(diag['columns_used'])} used, {doc['anomaly_count']} flagged")
        if diag["warnings"]:
            read += f"; {len(diag['warnings'])} warning(s), first: {diag['warnings'][0]}"
    return {"rc": rc, "last": lines[-1] if lines else "", "wall": wall, "problems": problems, "read": read}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "odd_files")
    ap.add_argument("--timeout", type=float, default=180.0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "ODD_FILES.md")
    ap.add_argument("--only", default=None, help="run only files whose name contains this")
    args = ap.parse_args(argv)
    if ROOT in args.folder.resolve().parents or args.folder.resolve() == ROOT:
        ap.error("--folder must be outside the repository")
    files = build(args.folder)
    benign = build_benign(args.folder / "benign")
    benign_paths = {p for p, _ in benign}
    files += benign
    if args.only:
        files = [(p, w) for p, w in files if args.only in p.name]
    outdir = args.folder.parent / (args.folder.name + "_out")
    shutil.rmtree(outdir, ignore_errors=True)
    outdir.mkdir()
    data_dir = Path(tempfile.mkdtemp(prefix="odd-files-cache-"))
    results = []
    try:
        for path, what in files:
            res = run_one(path, outdir / (path.stem.lstrip("~$") + ".json"), data_dir, args.timeout)
            results.append((path, what, res))
            flag = "FAIL " + ", ".join(res["problems"]) if res["problems"] else "ok"
            print(f"{path.name:34} rc={res['rc']} {res['wall']:6.1f}s  {flag}  {res['last'][:110]}", flush=True)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    # A benign file is valid and other readers open it: a refusal (exit 1) breaks its contract.
    for path, _what, res in results:
        if path in benign_paths and res["rc"] == 1:
            res["problems"].append("refused")
    odd = [r for r in results if r[0] not in benign_paths]
    kind = [r for r in results if r[0] in benign_paths]
    refused = [r for r in kind if r[2]["rc"] != 0]
    failed = [r for r in results if r[2]["problems"]]
    lines = [
        "# `anomaly-tui detect` on odd real-world-like files",
        "",
        "Generated and run by `python benchmarks/odd_files.py` (files are written to a folder outside",
        "the repository; nothing binary is committed). Each file: `anomaly-tui detect FILE --epochs 2 -o OUT`",
        f"in its own process, private model cache, timeout {args.timeout:.0f} s. Contract: exit 0 or 1; on 1",
        "exactly one `error:` line on stderr; no traceback; no hang.",
        "",
        f"Machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs (shared with"
        " other work, so wall times are indicative). Wall time includes starting Python and, on",
        "success, training (TensorFlow import included).",
        "",
        f"Result: {len(results) - len(failed)} of {len(results)} files met the contract; "
        f"{len(refused)} of the {len(kind)} benign-but-unusual files were refused (target 0).",
        "",
    ]

    def table(rows: list) -> None:
        lines.extend([
            "| file | what it is | exit | last stderr line | wall s | contract | what was read (from the JSON) |",
            "|---|---|---|---|---|---|---|",
        ])
        for path, what, res in rows:
            verdict = "FAIL: " + ", ".join(res["problems"]) if res["problems"] else "ok"
            last = res["last"] if res["last"] else "(nothing on stderr)"
            lines.append(f"| `{_cell(path.name)}` | {_cell(what)} | {res['rc']} | {_cell(last)} | {res['wall']:.1f} | "
                         f"{verdict} | {_cell(res['read'])} |")

    lines += ["## Odd and hostile files", ""]
    table(odd)
    lines += [
        "",
        "## Benign but unusual (target: 0 refusals)",
        "",
        "Valid files other readers (pandas, calamine, LibreOffice) open, arranged as some producers",
        "arrange them. Here the contract is stricter: exit 0, the table read.",
        "",
    ]
    table(kind)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
