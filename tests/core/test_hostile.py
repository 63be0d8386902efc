"""Hostile and messy input for the reader, one row per case of
../shared/research/reliability-anchors.md (section 6 numbering; S1-S9 are the security promises).

Every file is generated here, in the test; nothing binary is committed. Refusals are checked by
message class (a phrase of the one-line message), handled cases by the report's counts, and
attacks by what did not happen: no canary file opened, the parent process alive and small.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.raw_files import BASE_ROWS, FAR_ROWS, WB, cfb, raw_xlsx, sheet_xml, write_xls, write_xlsx
from tui_detector.core.io import engines, guard, reader, sandbox, scan
from tui_detector.core.io.guard import containers, dimensions, isolated, zipcheck
from tui_detector.core.io.reader import ReadError, list_sheets, read_table

ROOT = Path(__file__).resolve().parents[2]


def one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert msg and "\n" not in msg and "Traceback" not in msg
    return msg


# ------------------------------------------------------------------------------------------
# Canary: inotify sees every open of a file, by any code in this process (Rust included).


class Canary:
    IN_ACCESS, IN_OPEN = 0x1, 0x20

    def __init__(self, path: Path) -> None:
        self.path = path
        path.write_text("CANARY-SECRET\n")
        self.fd = -1
        if sys.platform.startswith("linux"):
            libc = ctypes.CDLL(None, use_errno=True)
            self.fd = libc.inotify_init1(os.O_NONBLOCK)
            if self.fd >= 0:
                libc.inotify_add_watch(self.fd, str(path).encode(), self.IN_ACCESS | self.IN_OPEN)
        self.mtime = path.stat().st_mtime_ns

    def touched(self) -> bool:
        changed = self.path.read_text() != "CANARY-SECRET\n" or self.path.stat().st_mtime_ns != self.mtime
        if self.fd < 0:
            return changed
        try:
            events = os.read(self.fd, 4096)
        except BlockingIOError:
            events = b""
        # read_text above is our own open: drain it by reading only what came before.
        return changed or bool(events)

    def arm(self) -> None:
        if self.fd >= 0:
            try:
                while os.read(self.fd, 4096):
                    pass
            except BlockingIOError:
                pass

    def opened(self) -> bool:
        if self.fd < 0:
            pytest.skip("inotify not available")
        try:
            return bool(os.read(self.fd, 4096))
        except BlockingIOError:
            return False


@pytest.fixture
def canary(tmp_path):
    c = Canary(tmp_path / "canary.txt")
    c.arm()
    yield c
    if c.fd >= 0:
        os.close(c.fd)


# ------------------------------------------------------------------------------------------
# Refusals: (case, builder(tmp) -> path, phrase expected in the one-line message)


def _write(name: str, data: bytes):
    def build(tmp: Path) -> Path:
        p = tmp / name
        p.write_bytes(data)
        return p

    return build


def _docx(tmp: Path) -> Path:
    p = tmp / "letter.xlsx"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    return p


def _plain_zip(tmp: Path) -> Path:
    p = tmp / "photos.xlsx"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("a.txt", "hello")
    return p


def _truncated(tmp: Path) -> Path:
    good = write_xlsx(tmp / "g.xlsx", {"S": [["a"], [1]]}).read_bytes()
    p = tmp / "cut.xlsx"
    p.write_bytes(good[: len(good) * 2 // 3])
    return p


def _broken_xml(tmp: Path) -> Path:
    return raw_xlsx(tmp / "broken.xlsx", sheet_xml('<row r="1"><c r="A1"><v>1</v></c>')[:-40])


LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + ']>\n<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
    "<si><t>&lol9;</t></si></sst>"
)
QUADRATIC = (
    '<?xml version="1.0"?>\n<!DOCTYPE q [<!ENTITY a "' + "x" * 50_000 + '">]>\n'
    '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    "<si><t>" + "&a;" * 20_000 + "</t></si></sst>"
)
SST_REL = '<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'


def _sst_bomb(text: str, name: str):
    def build(tmp: Path) -> Path:
        rows = '<row r="1"><c r="A1" t="s"><v>0</v></c></row>'
        return raw_xlsx(tmp / name, sheet_xml(rows), members={"xl/sharedStrings.xml": text}, rels_extra=SST_REL)

    return build


def _far(rows: str, name: str = "far.xlsx", **kw):
    def build(tmp: Path) -> Path:
        return raw_xlsx(tmp / name, sheet_xml(rows, **kw))

    return build


def _zip_bomb(tmp: Path) -> Path:
    # 40 MB of sheet XML (a single cell padded with whitespace) that deflates ~1000:1.
    padded = sheet_xml(BASE_ROWS + " " * (40 << 20))
    return raw_xlsx(tmp / "bomb.xlsx", padded)


def _encrypted(tmp: Path) -> Path:
    p = tmp / "secret.xlsx"
    p.write_bytes(cfb({"EncryptionInfo": b"\x04\x00\x04\x00" + bytes(60), "EncryptedPackage": bytes(600)}))
    return p


def _zip_encrypted_member(tmp: Path) -> Path:
    p = raw_xlsx(tmp / "zipcrypto.xlsx")
    data = bytearray(p.read_bytes())
    # Set the "encrypted" flag on every local and central header.
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        while i >= 0:
            data[i + off] |= 1
            i = data.find(sig, i + 4)
    p.write_bytes(bytes(data))
    return p


def _dup_members(tmp: Path) -> Path:
    p = raw_xlsx(tmp / "dup.xlsx")
    with pytest.warns(UserWarning):
        with zipfile.ZipFile(p, "a") as zf:
            zf.writestr("xl/worksheets/sheet1.xml", sheet_xml(FAR_ROWS))
    return p


def _many_members(tmp: Path) -> Path:
    return raw_xlsx(tmp / "many.xlsx", members={f"junk/{i}.bin": b"" for i in range(zipcheck.MAX_MEMBERS + 1)},
                    compression=zipfile.ZIP_STORED)


def _utf16_sheet(tmp: Path) -> Path:
    xml = sheet_xml(FAR_ROWS).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    return raw_xlsx(tmp / "utf16.xlsx", xml)


def _dtd_after_padding(tmp: Path) -> Path:
    prolog = "<!--" + "x" * (70 * 1024) + "-->"
    return raw_xlsx(tmp / "pad.xlsx", sheet_xml(prolog=prolog + '<!DOCTYPE w [<!ENTITY e "x">]>'))


REFUSALS = [
    ("A1 empty xlsx", _write("empty.xlsx", b""), "'empty.xlsx' is empty"),
    ("A1 empty csv", _write("empty.csv", b""), "'empty.csv' is empty"),
    ("A3 docx named xlsx", _docx, "it is a Word document, not an Excel workbook"),
    ("A3 plain zip named xlsx", _plain_zip, "it is a ZIP archive, not an Excel workbook"),
    ("A4 truncated", _truncated, "not a valid xlsx workbook"),
    ("A5 broken sheet XML", _broken_xml, "not a valid xlsx workbook"),
    ("A8 encrypted OOXML (real CFB)", _encrypted, "password-protected"),
    ("A8 encrypted zip entries", _zip_encrypted_member, "password-protected"),
    ("A13 Excel lock file", _write("~$budget.xlsx", b"\x05alice" + bytes(150)), "lock file"),
    ("A13 LibreOffice lock file", _write(".~lock.budget.xlsx#", b"alice,host,alice,01.01.2025 10:00,file:///x;\n"), "lock file"),
    ("B17 billion laughs", _sst_bomb(LAUGHS, "laughs.xlsx"), "XML entity declarations"),
    ("B18 quadratic blowup", _sst_bomb(QUADRATIC, "quad.xlsx"), "XML entity declarations"),
    ("B17 DTD in the sheet itself", _far(BASE_ROWS, prolog='<!DOCTYPE w [<!ENTITY e "x">]>'), "XML entity declarations"),
    ("B17 DTD hidden after a 70 KB comment", _dtd_after_padding, "refused for safety"),
    ("B20 zip bomb 1000:1", _zip_bomb, "ZIP bomb"),
    ("B20 too many members", _many_members, "entries"),
    ("B20 duplicate member names", _dup_members, "two entries named"),
    ("B21 far cell XFD900000", _far(FAR_ROWS), "refused so it cannot exhaust memory"),
    ("B21 far cell, single quotes", _far(BASE_ROWS + "<row r='900000'><c r='XFD900000'><v>1</v></c></row>"), "cannot exhaust memory"),
    ("B21 far cell, spaces around =", _far(BASE_ROWS + '<row r = "900000"><c r = "XFD900000"><v>1</v></c></row>'), "cannot exhaust memory"),
    ("B21 far cell, tab and newline", _far(BASE_ROWS + '<row\tr="900000"><c\nr="XFD900000"><v>1</v></c></row>'), "cannot exhaust memory"),
    ("B21 far cell, lower case", _far(BASE_ROWS + '<row r="900000"><c r="xfd900000"><v>1</v></c></row>'), "cannot exhaust memory"),
    ("B21 far cell, leading zeros", _far(BASE_ROWS + '<row r="900000"><c r="XFD000900000"><v>1</v></c></row>'), "cannot exhaust memory"),
    ("B21 far cell, attribute not first", _far(BASE_ROWS + '<row spans="1:2" r="900000"><c s="0" r="XFD900000"><v>1</v></c></row>'), "cannot exhaust memory"),
    ("B21 far row without cell refs + wide cell", _far(BASE_ROWS + '<row r="900000"><c><v>1</v></c></row><row r="900001"><c r="XFD900001"><v>1</v></c></row>'), "cannot exhaust memory"),
    ("B21 far cell, lying dimension", _far(FAR_ROWS, dim="A1:B3"), "cannot exhaust memory"),
    ("B21 far cell, namespaced elements", _far(BASE_ROWS + '<x:row xmlns:x="urn:x" r="900000"><x:c r="XFD900000"><x:v>1</x:v></x:c></x:row>'), "cannot exhaust memory"),
    ("B21 row number past u32", _far(BASE_ROWS + '<row r="99999999999"><c r="B99999999999"><v>1</v></c></row>'), "cannot exhaust memory"),
    ("B21 far cell in a UTF-16 sheet", _utf16_sheet, "not UTF-8 XML"),
    ("G65 binary junk named csv", _write("junk.csv", bytes(range(256)) * 8), "neither a spreadsheet nor a text file"),
    ("A2 html named xls", _write("report.xls", b"<html><body><table><tr><td>1</td></tr></table></body></html>"), "HTML or XML file"),
]


@pytest.mark.parametrize("case, build, phrase", REFUSALS, ids=[c for c, _, _ in REFUSALS])
def test_refused_with_one_line_message(tmp_path, case, build, phrase):
    path = build(tmp_path)
    with pytest.raises(ReadError) as err:
        read_table(path)
    assert phrase in one_line(err), case
    with pytest.raises(ReadError) as err2:
        list_sheets(path)
    one_line(err2)
    # How quickly (nothing here is parsed in full): benchmarks/child_timing.py.


def test_encrypted_workbook_refused_before_any_parser(tmp_path, monkeypatch):
    path = _encrypted(tmp_path)
    assert guard.cfb_stream_names(path) >= {"EncryptionInfo", "EncryptedPackage"}

    def boom(*a, **k):
        raise AssertionError("a parser saw the encrypted file")

    monkeypatch.setattr(engines, "_calamine_open", boom)
    monkeypatch.setattr(guard, "run_worker", boom)
    with pytest.raises(ReadError, match="password-protected"):
        read_table(path)


def test_bombs_are_refused_before_calamine(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("calamine was called")

    monkeypatch.setattr(engines, "_calamine_open", boom)
    for build in (_far(FAR_ROWS), _zip_bomb, _sst_bomb(LAUGHS, "l.xlsx")):
        with pytest.raises(ReadError):
            read_table(build(tmp_path))


# ------------------------------------------------------------------------------------------
# S3: the parent survives and stays small; the guard is what makes the difference.

_CHILD = textwrap.dedent(
    """
    import resource, sys
    from tui_detector.core.io.guard import dimensions, zipcheck
    from tui_detector.core.io.reader import read_table, ReadError
    if sys.argv[2] == "off":
        dimensions.MAX_CELLS = 10**15
        zipcheck.MAX_RATIO = 10**9
    try:
        read_table(sys.argv[1])
        print("READ")
    except ReadError as exc:
        print("REFUSED", exc)
    # Peak RSS of this process only. ru_maxrss survives exec on Linux, so a child of a big
    # pytest worker (TensorFlow loaded) would report the worker's peak; VmHWM belongs to the
    # address space this interpreter got at exec.
    try:
        with open("/proc/self/status") as fh:
            peak = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:"))
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("RSS_MB", peak // 1024)
    """
)


def _run_child(path: Path, guard_state: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), RUST_BACKTRACE="0")
    return subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), guard_state],
        capture_output=True, text=True, timeout=120, env=env,
    )


@pytest.mark.slow
def test_far_cell_kills_an_unguarded_process_but_not_a_guarded_one(tmp_path):
    path = _far(FAR_ROWS)(tmp_path)
    guarded = _run_child(path, "on")
    assert guarded.returncode == 0, guarded.stderr
    assert "REFUSED" in guarded.stdout and "cannot exhaust memory" in guarded.stdout
    rss = int(guarded.stdout.split("RSS_MB")[1])
    assert rss < 600, rss
    # Proof the fixture is a real attack: without the guard calamine aborts the process.
    unguarded = _run_child(path, "off")
    assert unguarded.returncode != 0 and "READ" not in unguarded.stdout


@pytest.mark.slow
def test_zip_bomb_parent_memory_bounded(tmp_path):
    path = _zip_bomb(tmp_path)
    run = _run_child(path, "on")
    assert "REFUSED" in run.stdout and "ZIP bomb" in run.stdout, run.stderr
    assert int(run.stdout.split("RSS_MB")[1]) < 600


@pytest.mark.slow
def test_child_memory_limit_becomes_a_message(tmp_path, monkeypatch):
    # A full-size .xls grid (65536 x 256) needs about 1 GB in calamine; allow the child 300 MB.
    path = write_xls(tmp_path / "wide.xls", [["a", "b"], [1, 2]] + [[None]] * 65530 + [[None] * 255 + [1]])
    monkeypatch.setattr(isolated, "WORKER_MEMORY", 300 * 1024**2)
    with pytest.raises(ReadError) as err:
        read_table(path)
    assert "more memory than allowed" in one_line(err) or "crashed" in one_line(err)
    assert sandbox.live_children() == 0
    # And this process still reads files.
    assert read_table(write_xls(tmp_path / "ok.xls", [["a"], [1]])).frame["a"].tolist() == [1]


def test_child_timeout_becomes_a_message(tmp_path, monkeypatch):
    path = write_xls(tmp_path / "t.xls", [["a"], [1]])
    monkeypatch.setattr(isolated, "WORKER_TIMEOUT", 0.001)
    with pytest.raises(ReadError, match="longer than"):
        read_table(path)


def test_child_crash_becomes_a_message(tmp_path, monkeypatch):
    path = write_xls(tmp_path / "t.xls", [["a"], [1]])
    real = subprocess.Popen

    def crashing(args, **kw):
        return real([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGABRT)"], **kw)

    monkeypatch.setattr(subprocess, "Popen", crashing)
    with pytest.raises(ReadError) as err:
        read_table(path)
    assert "crashed" in one_line(err) and "SIGABRT" in one_line(err)


def test_child_cannot_feed_the_parent_a_pickle(tmp_path, monkeypatch):
    # A parse child a hostile file took over can answer anything; the parent reads the answer
    # as data-only JSON, so a pickle (the old protocol's "OK" + pickle), an unknown tag, or
    # several answers are all "damaged data", and nothing from the child runs here.
    import pickle

    canary = tmp_path / "canary"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {canary}",))

    answers = [
        b"OK" + pickle.dumps({"rows": [Evil()]}),
        json.dumps({"ok": {"rows": [[{"$pickle": "gASV"}]], "row0": 0, "col0": 0, "sheet": "S"}}).encode(),
        b'{"ok": {}}\n{"ok": {}}',
    ]
    real = subprocess.Popen
    path = write_xls(tmp_path / "t.xls", [["a"], [1]])
    for answer in answers:
        script = f"import sys; sys.stdout.buffer.write({answer!r})"
        monkeypatch.setattr(subprocess, "Popen", lambda args, **kw: real([sys.executable, "-c", script], **kw))
        with pytest.raises(ReadError, match="damaged data"):
            read_table(path)
    assert not canary.exists()


def test_rust_panic_is_a_read_error(tmp_path, monkeypatch):
    class PanicException(BaseException):  # what pyo3 raises for a Rust panic
        pass

    def panic(*a, **k):
        raise PanicException("index out of bounds")

    path = write_xlsx(tmp_path / "t.xlsx", {"S": [["a", "b"], [1, 2]]})
    monkeypatch.setattr(engines, "_calamine_open", panic)
    # xlsx falls back to openpyxl and says so
    t = read_table(path)
    assert t.report.engine == "openpyxl" and any("index out of bounds" in w for w in t.report.warnings)
    monkeypatch.setattr(engines, "_openpyxl_open", panic)
    with pytest.raises(ReadError):
        read_table(path)
    with pytest.raises(ReadError):
        list_sheets(path)


# ------------------------------------------------------------------------------------------
# S1 / S2: nothing from the file runs; XML hardening is on or we refuse.


def test_xxe_to_a_canary_is_refused_and_never_read(tmp_path, canary):
    xxe = (
        f'<?xml version="1.0"?>\n<!DOCTYPE s [<!ENTITY x SYSTEM "file://{canary.path}">]>\n'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&x;</t></si></sst>'
    )
    path = _sst_bomb(xxe, "xxe.xlsx")(tmp_path)
    for engine in ("auto", "calamine", "openpyxl"):
        with pytest.raises(ReadError, match="XML entity declarations"):
            read_table(path, engine=engine)
    assert not canary.opened()


def test_external_link_and_macros_are_not_followed(tmp_path, canary):
    ext = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<externalLink xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<externalBook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" r:id="rId1"/>'
        "</externalLink>"
    )
    ext_rels = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/externalLinkPath" Target="file://{canary.path}" TargetMode="External"/>'
        "</Relationships>"
    )
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>v</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>w</t></is></c></row>'
        "<row r=\"2\"><c r=\"A2\"><f>[1]Sheet1!A1</f><v>7</v></c><c r=\"B2\"><v>1</v></c></row>"
        "<row r=\"3\"><c r=\"A3\"><f>1+1</f></c><c r=\"B3\"><v>2</v></c></row>"
    )
    path = raw_xlsx(
        tmp_path / "links.xlsm",
        sheet_xml(rows),
        members={
            "xl/externalLinks/externalLink1.xml": ext,
            "xl/externalLinks/_rels/externalLink1.xml.rels": ext_rels,
            "xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 not really vba " * 10,
        },
        rels_extra='<Relationship Id="rId7" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/externalLink" Target="externalLinks/externalLink1.xml"/>',
    )
    for engine in ("calamine", "openpyxl"):
        t = read_table(path, engine=engine)
        # cached value used, formula without a cached value never evaluated
        assert t.frame["v"].tolist()[0] == 7
        assert pd.isna(t.frame["v"].tolist()[1])
        assert any("macros" in w for w in t.report.warnings)
        assert any("external link" in w for w in t.report.warnings)
    assert not canary.opened()


def test_no_network_during_reads(tmp_path, monkeypatch):
    import socket

    def no(*a, **k):
        raise AssertionError("network touched")

    monkeypatch.setattr(socket, "socket", no)
    monkeypatch.setattr(socket, "create_connection", no)
    path = write_xlsx(tmp_path / "t.xlsx", {"S": [["url"], ["http://example.com"], ["=WEBSERVICE(\"http://x\")"]]})
    t = read_table(path)
    assert t.frame["url"].tolist()[0] == "http://example.com"


def test_defusedxml_protects_openpyxl():
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML is True
    assert guard.xml_hardening_problem() is None


@pytest.mark.slow
def test_hardening_off_refuses_workbooks(tmp_path):
    path = write_xlsx(tmp_path / "t.xlsx", {"S": [["a"], [1]]})
    csv_path = tmp_path / "t.csv"
    csv_path.write_text("a\n1\n")
    code = textwrap.dedent(
        """
        import sys
        from tui_detector.core.io.reader import read_table, ReadError
        try:
            read_table(sys.argv[1]); print("READ")
        except ReadError as exc:
            print("REFUSED", exc)
        print(len(read_table(sys.argv[2]).frame))
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENPYXL_DEFUSEDXML="False")
    run = subprocess.run([sys.executable, "-c", code, str(path), str(csv_path)],
                         capture_output=True, text=True, timeout=60, env=env)
    assert run.returncode == 0, run.stderr
    assert "REFUSED" in run.stdout and "XML hardening" in run.stdout
    assert run.stdout.strip().endswith("1")  # CSV has no XML; still read


def test_markup_in_cells_headers_and_sheet_names_is_verbatim(tmp_path):
    # S9 on the reader's side: what the app later shows is exactly the file's text.
    nasty = ["[bold]x[/bold]", "[/]", "[link=http://x]y[/link]", "[@click=app.quit]CLICK[/]", "a[0][b]"]
    cells = "".join(
        f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>{text}</t></is></c><c r="B{r}"><v>{r}</v></c></row>'
        for r, text in enumerate(["[@click=app.quit]h"] + nasty, start=1)
    ).replace('<c r="B1"><v>1</v></c>', '<c r="B1" t="inlineStr"><is><t>n</t></is></c>')
    path = raw_xlsx(tmp_path / "m.xlsx", sheet_xml(cells), members={"xl/workbook.xml": WB.replace('name="S"', 'name="[red]S[/]"')})
    sheets = list_sheets(path)
    assert sheets[0].name == "[red]S[/]"
    t = read_table(path)
    assert list(t.frame.columns) == ["[@click=app.quit]h", "n"]
    assert t.frame["[@click=app.quit]h"].tolist() == nasty


# ------------------------------------------------------------------------------------------
# Handled cases: (case, builder, check(table))


def _csv(name: str, text: str | bytes, encoding: str = "utf-8"):
    def build(tmp: Path) -> Path:
        p = tmp / name
        p.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
        return p

    return build


def _xlsx(rows, **kw):
    def build(tmp: Path) -> Path:
        return write_xlsx(tmp / "t.xlsx", {"S": rows}, **kw)

    return build


def _check_values(col, values):
    def check(t):
        got = [None if (v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA) else v for v in t.frame[col].tolist()]
        assert got == values, got

    return check


def _many_merges(tmp: Path) -> Path:
    merges = "".join(f'<mergeCell ref="C{r}:D{r}"/>' for r in range(1, 20001))
    return raw_xlsx(tmp / "merges.xlsx", sheet_xml(extra=f'<mergeCells count="20000">{merges}</mergeCells>'))


def _wrong_dims(dim):
    def build(tmp: Path) -> Path:
        return raw_xlsx(tmp / "dims.xlsx", sheet_xml(dim=dim))

    return build


def _odd_but_valid_styles(tmp: Path) -> Path:
    styles = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<cellStyles count="1"><cellStyle xfId="0" builtinId="0"/></cellStyles></styleSheet>'
    )
    return raw_xlsx(tmp / "styles.xlsx", members={"xl/styles.xml": styles},
                    rels_extra='<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>')


def _xls(tmp: Path) -> Path:
    return write_xls(tmp / "legacy.xls", [["a", "b"], [1, "x"], [2, "y"]])


def _text_named_xlsx(tmp: Path) -> Path:
    p = tmp / "export.xlsx"
    p.write_text("a,b\n1,2\n3,4\n")
    return p


HANDLED = [
    ("A2 CSV renamed .xlsx is read as text, with a note", _text_named_xlsx,
     lambda t: (t.report.file_format == "csv", any("text file" in w for w in t.report.warnings), t.frame["a"].tolist() == [1, 3])),
    ("A6 cellStyle without a name", _odd_but_valid_styles, lambda t: t.frame["a"].tolist() == [1, 3]),
    ("A9 sheet protection only", _xlsx([["a"], [1], [2]], protect=True), lambda t: t.frame["a"].tolist() == [1, 2]),
    ("A10 legacy xls in the child process", _xls, lambda t: (t.report.engine == "calamine", t.frame["b"].tolist() == ["x", "y"])),
    ("A16 dimension claims the whole sheet", _wrong_dims("A1:XFD1048576"), lambda t: t.frame.shape == (2, 2)),
    ("A16 dimension claims one cell", _wrong_dims("A1"), lambda t: t.frame.shape == (2, 2)),
    ("B23 20,000 merged ranges", _many_merges, lambda t: t.frame.shape == (2, 2)),
    ("C24 title rows above header", _xlsx([["Quarterly report"], [], ["id", "v"], [1, 2.5], [2, 3.5]]),
     lambda t: (t.report.header_row == 3, list(t.frame.columns) == ["id", "v"], any("title row" in w for w in t.report.warnings))),
    ("C25 merged cells in body keep only the top-left value", _xlsx([["k", "v"], ["x", 1], [None, 2], ["y", 3]], merge=("A2:A3",)),
     lambda t: (t.frame["k"].isna().sum() == 1, len(t.frame) == 3)),
    ("C27 duplicate column names", _xlsx([["a", "a", "a"], [1, 2, 3]]),
     lambda t: (list(t.frame.columns) == ["a", "a (2)", "a (3)"], any("duplicate" in w for w in t.report.warnings))),
    ("C28 blank header cell", _xlsx([["a", None, "c"], [1, 2, 3]]),
     lambda t: (list(t.frame.columns) == ["a", "column B", "c"], any("without a header" in w for w in t.report.warnings))),
    ("C29 whitespace, NBSP and zero-width characters in headers", _xlsx([[" b ", "\xa0c", "d\u200b"], [1, 2, 3]]),
     lambda t: (list(t.frame.columns) == ["b", "c", "d"], any("invisible characters" in w for w in t.report.warnings))),
    ("D34 header-only sheet", _xlsx([["a", "b"]]),
     lambda t: (len(t.frame) == 0, any("no data rows" in w for w in t.report.warnings))),
    ("E38 error cells counted", _xlsx([["v"], [1], ["#DIV/0!"], ["#N/A"]]),
     lambda t: (t.frame["v"].isna().sum() == 2, any("2 error cells" in w for w in t.report.warnings))),
    ("E39 mixed types keep every row", _xlsx([["v"], [1], ["n/a"], ["TBD"], [2.5]]), lambda t: len(t.frame) == 4),
    ("E40 zero-padded codes stay text (CSV)", _csv("codes.csv", "code,n\n00123,1\n04567,2\n"),
     lambda t: t.frame["code"].tolist() == ["00123", "04567"]),
    ("E41 booleans with blanks", _xlsx([["ok", "n"], [True, 1], [None, 2], [False, 3]]),
     lambda t: (str(t.frame["ok"].dtype) == "boolean", t.frame["ok"].isna().sum() == 1)),
    ("E42 1904 date system", _xlsx([["d"], [dt.datetime(2020, 5, 17)]], epoch1904=True),
     lambda t: t.frame["d"].iloc[0] == pd.Timestamp("2020-05-17")),
    ("E43 times and long durations become text", _xlsx([["t", "d"], [dt.time(13, 45), dt.timedelta(hours=30)]]),
     lambda t: (t.frame["t"].tolist() == ["13:45:00"], t.frame["d"].tolist() == ["30:00:00"])),
    ("E44 integers beyond 2^53 stay exact (CSV)", _csv("ids.csv", "id\n9223372036854775807\n9007199254740993\n"),
     lambda t: [int(x) for x in t.frame["id"].tolist()] == [9223372036854775807, 9007199254740993]),
    ("E45 inf and 1e300", _csv("big.csv", "v\n1e300\ninf\n-inf\n1\n"),
     lambda t: (t.frame["v"].dtype == np.float64, np.isinf(t.frame["v"]).sum() == 2)),
    ("E46 NA tokens", _csv("na.csv", "v,w\n1,x\nNA,y\nn/a,z\nnull,q\n,r\n"),
     lambda t: (t.frame["v"].isna().sum() == 4, len(t.frame) == 5)),
    ("G61 UTF-8 BOM", _csv("bom.csv", b"\xef\xbb\xbfa,b\n1,2\n"), lambda t: list(t.frame.columns) == ["a", "b"]),
    ("G62 UTF-16 with BOM", _csv("u16.csv", "a\tb\n1\t2\n", "utf-16"), lambda t: t.frame.to_dict("list") == {"a": [1], "b": [2]}),
    ("G62 cp1252 with a notice", _csv("cp.csv", "name,v\nCaf\xe9,1\n", "cp1252"),
     lambda t: (t.frame["name"].tolist() == ["Caf\xe9"], any("cp1252" in w for w in t.report.warnings))),
    ("G63 semicolon + decimal comma", _csv("eu.csv", "a;b\n1,5;2,5\n3,25;4\n"),
     lambda t: (t.report.delimiter == ";", t.frame["a"].tolist() == [1.5, 3.25])),
    ("G64 ragged rows are kept and reported", _csv("rag.csv", "a,b\n1,2\n3,4,5\n"),
     lambda t: (len(t.frame) == 2, any("more fields" in w for w in t.report.warnings))),
    ("G65 NUL bytes removed and counted", _csv("nul.csv", b"a,b\n1,2\x00\n3,4\n"),
     lambda t: (t.frame["b"].tolist() == [2, 4], any("NUL" in w for w in t.report.warnings))),
]


@pytest.mark.parametrize("case, build, check", HANDLED, ids=[c for c, _, _ in HANDLED])
def test_handled(tmp_path, case, build, check):
    t = read_table(build(tmp_path))
    result = check(t)
    if isinstance(result, tuple):
        assert all(result), (case, result, t.report.warnings)
    else:
        assert result, (case, t.report.warnings)
    # S8: nothing vanishes without a count.
    assert t.report.rows == len(t.frame)
    assert t.report.dropped_empty_rows >= 0 and t.report.dropped_empty_columns >= 0


def test_date_and_number_header_cells_become_text(tmp_path):
    # C31: a header row of dates/numbers is not auto-detected (it looks like data), but with
    # the header row given, its labels are ISO text.
    path = write_xlsx(tmp_path / "d.xlsx", {"S": [[dt.datetime(2024, 1, 31), 5], [1, 2]]})
    t = read_table(path, header_row=1)
    assert list(t.frame.columns) == ["2024-01-31", "5"]


def test_dropped_rows_and_columns_are_counted(tmp_path):
    path = write_xlsx(tmp_path / "t.xlsx", {"S": [["a", None, "b"], [1, None, 2], [None, None, None], [3, None, 4]]})
    t = read_table(path)
    assert len(t.frame) == 2 and t.report.dropped_empty_rows == 1
    assert t.report.dropped_empty_columns == 1
    assert t.excel_rows.tolist() == [2, 4]


def test_sheets_hidden_chart_and_empty(tmp_path):
    path = write_xlsx(tmp_path / "s.xlsx", {"Hidden": [["a"], [1]], "Data": [["b"], [2]], "Empty": []},
                      hidden=("Hidden",), chartsheet=True)
    sheets = list_sheets(path)
    assert [s.name for s in sheets] == ["Hidden", "Data", "Empty"]  # D36: no chart sheet
    assert [s.visible for s in sheets] == [False, True, True]  # D35
    assert read_table(path).report.sheet == "Data"  # first visible
    with pytest.raises(ReadError, match="is empty"):  # D33
        read_table(path, sheet="Empty")


def test_error_cells_in_xlsx_still_counted_after_precheck(tmp_path):
    rows = ('<row r="1"><c r="A1" t="inlineStr"><is><t>v</t></is></c></row>'
            '<row r="2"><c r="A2" t="e"><v>#DIV/0!</v></c></row><row r="3"><c r="A3"><v>4</v></c></row>')
    t = read_table(raw_xlsx(tmp_path / "e.xlsx", sheet_xml(rows)))
    assert any("1 error cell (#DIV/0!)" in w for w in t.report.warnings)


def test_precheck_finds_exact_extent_of_a_stray_far_cell(tmp_path):
    # A stray value far down but within the limit is read, not refused.
    rows = BASE_ROWS + '<row r="500000"><c r="B500000"><v>9</v></c></row>'
    path = raw_xlsx(tmp_path / "stray.xlsx", sheet_xml(rows, dim="A1:B3"))
    facts = guard.check_zip(path, "xlsx")
    assert facts.extents["xl/worksheets/sheet1.xml"][0] >= 500000
    t = read_table(path)
    assert t.frame["b"].tolist()[-1] == 9


# ------------------------------------------------------------------------------------------
# E37: formula cells saved without a computed value; C29: look-alike header names.

_NO_VALUE_ROWS = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>v</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t>w</t></is></c></row>'
    # no <v> at all / an empty <v/> (openpyxl writes this) / a shared formula's child
    '<row r="2"><c r="A2"><f>1+1</f></c><c r="B2"><v>1</v></c></row>'
    '<row r="3"><c r="A3"><f>B3*2</f><v /></c><c r="B3"><v>2</v></c></row>'
    '<row r="4"><c r="A4"><f t="shared" si="0"/></c><c r="B4"><v>3</v></c></row>'
    # computed: a cached number, and Excel's own empty-string result (t="str", empty <v>)
    '<row r="5"><c r="A5"><f>2+2</f><v>4</v></c><c r="B5"><v>4</v></c></row>'
    '<row r="6"><c r="A6" t="str"><f>""</f><v></v></c><c r="B6"><v>5</v></c></row>'
    # a prefixed (x:) cell without a value, in the other column
    '<row r="7"><c r="A7"><v>6</v></c><x:c r="B7"><x:f>A7</x:f></x:c></row>'
)


@pytest.mark.parametrize("engine", ["auto", "calamine", "openpyxl"])
def test_formula_without_cached_value_is_reported(tmp_path, engine):
    # E37: both engines read such a cell as blank; the reader says how many and what to do.
    path = raw_xlsx(tmp_path / "f.xlsx", sheet_xml(_NO_VALUE_ROWS).replace(
        b"<worksheet ", b'<worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '))
    t = read_table(path, engine=engine)
    assert t.report.formulas_without_value == 4
    assert any(w.startswith("4 formula cells have no computed value") and "'v', 'w'" in w
               and "save it" in w for w in t.report.warnings), t.report.warnings
    assert t.frame["v"].isna().sum() == 4  # 3 uncomputed + Excel's computed "" (blank)
    assert t.frame["v"].tolist()[3] == 4
    assert len(t.frame) == 6


def test_formula_scan_ignores_computed_formulas_and_reads_across_chunks(tmp_path, monkeypatch):
    # Many rows, streamed in tiny chunks: every cut lands somewhere new in a cell, and no
    # uncomputed formula is lost or counted twice.
    rows = ['<row r="1"><c r="A1" t="inlineStr"><is><t>v</t></is></c></row>']
    for r in range(2, 402):
        cell = f"<f>ROW()</f>" + ("" if r % 7 == 0 else f"<v>{r}</v>")
        rows.append(f'<row r="{r}"><c r="A{r}">{cell}</c></row>')
    path = raw_xlsx(tmp_path / "many.xlsx", sheet_xml("".join(rows)))
    expected = sum(1 for r in range(2, 402) if r % 7 == 0)
    for chunk in (37, 1000, 1 << 22):
        monkeypatch.setattr(scan, "_SCAN_CHUNK", chunk)
        assert len(scan.xlsx_formulas(path, "S")) == expected
    t = read_table(path)
    assert t.report.formulas_without_value == expected and t.frame["v"].isna().sum() == expected


def test_sheets_without_uncomputed_formulas_are_not_rescanned(tmp_path, monkeypatch):
    # The pre-check already saw no formula, or only formulas followed by their values (what
    # Excel writes), so the extra pass is skipped.
    def boom(*a, **k):
        raise AssertionError("formula scan ran")

    monkeypatch.setattr(scan, "xlsx_formulas", boom)
    t = read_table(write_xlsx(tmp_path / "t.xlsx", {"S": [["a"], [1], [2]]}))
    assert t.report.formulas_without_value == 0
    rows = BASE_ROWS + '<row r="4"><c r="A4"><f>A2+A3</f><v>4</v></c><c r="B4" t="str"><f>"x"</f><v>x</v></c></row>'
    t = read_table(raw_xlsx(tmp_path / "calc.xlsx", sheet_xml(rows)))
    assert t.frame["a"].tolist() == [1, 3, 4] and t.report.formulas_without_value == 0


@pytest.mark.parametrize("cell", [
    '<f>A2</f></c>', '<f>A2</f><v/></c>', '<f>A2</f>\n  <v></v>\n</c>', '<f t="shared" si="0"/></c>',
])
def test_formula_hint_survives_any_chunk_seam(tmp_path, monkeypatch, cell):
    # The pre-check's hint is what lets the exact scan run; it must hold wherever the 4 MB
    # chunks happen to split the cell.
    monkeypatch.setattr(dimensions, "_CHUNK", 64)
    for pad in range(0, 64, 7):
        rows = BASE_ROWS + f'<row r="4"><c r="A4" s="{"1" * (pad + 1)}">{cell}</row>'
        path = raw_xlsx(tmp_path / f"seam{pad}.xlsx", sheet_xml(rows))
        assert any(guard.check_zip(path, "xlsx").formula_hint.values()), (cell, pad)


def test_chunk_seams_neither_hide_a_far_cell_nor_slow_a_normal_sheet(tmp_path, monkeypatch):
    # A cell reference written oddly (spaces around '=') makes the pre-check read every
    # reference exactly, wherever a chunk seam falls; an ordinary sheet never takes that slow
    # path just because a chunk's 8th byte is an '='.
    monkeypatch.setattr(dimensions, "_CHUNK", 64)
    exact_passes = []
    real = dimensions._ANY_R_VALUE

    class Spy:
        def finditer(self, window):
            exact_passes.append(1)
            return real.finditer(window)

    monkeypatch.setattr(dimensions, "_ANY_R_VALUE", Spy())
    normal = "".join(f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}"><v>1</v></c></row>' for r in range(1, 40))
    for pad in range(0, 64):
        path = raw_xlsx(tmp_path / f"n{pad}.xlsx", sheet_xml(f'<row r="1" spans="{"1" * (pad + 1)}"/>' + normal, dim="A1:B39"))
        guard.check_zip(path, "xlsx")
    assert exact_passes == []
    for pad in range(0, 64, 3):
        far = BASE_ROWS + f'<row r="4" spans="{"1" * (pad + 1)}"/><row r = "900000"><c r = "XFD900000"><v>1</v></c></row>'
        path = raw_xlsx(tmp_path / f"far{pad}.xlsx", sheet_xml(far))
        with pytest.raises(guard.Refused, match="cannot exhaust memory"):
            guard.check_zip(path, "xlsx")


def test_formula_without_value_counted_in_export_diagnostics(tmp_path):
    # E37 + S8: the count reaches the JSON a user keeps, next to the other dropped/coerced counts.
    from tui_detector.core.export import build_export, dumps
    from tui_detector.core.pipeline import DetectionSettings, run_detection

    rows = [["x", "y", "z"]] + [[i, (i * 7) % 11, f"=A{i + 2}*2" if i % 10 == 0 else i * 2] for i in range(60)]
    path = write_xlsx(tmp_path / "calc.xlsx", {"S": rows})
    run = run_detection(path, DetectionSettings(model="iforest", use_cache=False))
    doc = json.loads(dumps(build_export(run)))
    assert doc["diagnostics"]["formula_cells_without_value"] == 6
    assert any("6 formula cells have no computed value" in w for w in doc["diagnostics"]["warnings"])


def test_zero_width_header_collision_is_flagged(tmp_path):
    # C29: names that look the same are one name; the second becomes 'b (2)', with a warning.
    t = read_table(write_xlsx(tmp_path / "z.xlsx", {"S": [["b", "b\u200b", "\uff42", "a b", "a  b", "\u200b"],
                                                        [1, 2, 3, 4, 5, 6]]}))
    assert list(t.frame.columns) == ["b", "b (2)", "\uff42 (3)", "a b", "a  b (2)", "column F"]
    assert any(w == "duplicate column names were made unique: 'b (2)'" for w in t.report.warnings)
    assert any("differ only in spaces, invisible characters or character width" in w
               and "'\uff42 (3)', 'a  b (2)'" in w for w in t.report.warnings), t.report.warnings
    assert any("invisible characters" in w and "1 column name: 'b'" in w for w in t.report.warnings)


def test_zero_width_header_collision_in_csv(tmp_path):
    p = tmp_path / "z.csv"
    p.write_text("id,id\u200b,\ufeffname\n1,2,x\n", encoding="utf-8")
    t = read_table(p)
    assert list(t.frame.columns) == ["id", "id (2)", "name"]
