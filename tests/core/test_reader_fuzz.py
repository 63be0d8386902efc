"""Property test: mutated workbooks and CSVs only ever raise ReadError from the reader.

Hypothesis flips bytes, truncates, and corrupts single zip members of small valid files
(xlsx deflated and stored, xls, csv). Derandomized with a fixed example budget so CI is stable
and fast; a crash of the calamine fast path would take the test process down with it, which is
exactly what the pre-checks in tui_detector.core.io.guard must prevent.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_detector.core.io.reader import ReadError, list_sheets, read_table

# Hundreds of parses of damaged files per test: the quick loop (-m "not slow") leaves them out.
pytestmark = pytest.mark.slow

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _xlsx_bytes(compression: int) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append(["id", "name", "amount"])
    for i in range(12):
        ws.append([i, f"n{i}", i * 1.5])
    buf = io.BytesIO()
    wb.save(buf)
    if compression == zipfile.ZIP_DEFLATED:
        return buf.getvalue()
    # Re-pack stored, so byte flips land in XML text (cell references, tags) directly.
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(out, "w", compression) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    return out.getvalue()


def _xls_bytes() -> bytes:
    import xlwt

    wb = xlwt.Workbook()
    ws = wb.add_sheet("Data")
    for r, row in enumerate([["id", "v"]] + [[i, i * 2.5] for i in range(10)]):
        for c, v in enumerate(row):
            ws.write(r, c, v)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


CSV = b"id;name;amount\n1;alpha;1,5\n2;beta;2,25\n3;\xe9t\xe9;10\n"
SEEDS = {
    "xlsx": _xlsx_bytes(zipfile.ZIP_DEFLATED),
    "stored.xlsx": _xlsx_bytes(zipfile.ZIP_STORED),
    "xls": _xls_bytes(),
    "csv": CSV,
}


def _check(path: Path) -> None:
    for call in (lambda: read_table(path), lambda: list_sheets(path)):
        try:
            call()
        except ReadError as exc:
            msg = str(exc)
            assert msg and "\n" not in msg
        # Anything else propagates and fails the property.


@st.composite
def mutations(draw, kind: str):
    data = bytearray(SEEDS[kind])
    how = draw(st.sampled_from(["flip", "truncate", "splice", "member"]))
    if how == "flip":
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
    elif how == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif how == "splice":
        i = draw(st.integers(0, len(data)))
        data[i:i] = draw(st.binary(min_size=1, max_size=64))
    elif kind.endswith("xlsx"):
        # Replace one member's content with junk or a digit-tweaked copy of itself.
        src = zipfile.ZipFile(io.BytesIO(bytes(data)))
        names = src.namelist()
        victim = draw(st.sampled_from(names))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for name in names:
                content = src.read(name)
                if name == victim:
                    if draw(st.booleans()):
                        content = draw(st.binary(max_size=256))
                    else:
                        digits = draw(st.sampled_from([b"9", b"99999", b"XFD", b"0"]))
                        content = content.replace(b'r="A', b'r="' + digits + b"A", 1).replace(
                            b'r="B', b'r="B' + digits, 1
                        )
                dst.writestr(name, content)
        data = bytearray(out.getvalue())
    else:
        data = data[::-1]
    return bytes(data)


@pytest.mark.parametrize("kind", ["xlsx", "stored.xlsx", "csv"])
def test_mutated_inputs_only_raise_read_error(tmp_path, kind):
    suffix = ".xlsx" if kind.endswith("xlsx") else f".{kind}"

    @SETTINGS
    @given(blob=mutations(kind))
    def run(blob):
        path = tmp_path / f"fuzz{suffix}"
        path.write_bytes(blob)
        _check(path)

    run()


def test_mutated_xls_only_raise_read_error(tmp_path):
    # .xls goes through the child process, so fewer examples keep this quick.
    @settings(SETTINGS, max_examples=12)
    @given(blob=mutations("xls"))
    def run(blob):
        path = tmp_path / "fuzz.xls"
        path.write_bytes(blob)
        _check(path)

    run()
