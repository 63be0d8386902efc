"""Tests for tui_detector.core.io.reader. Every fixture is generated into tmp_path."""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.fixtures_tables import TABLE, assert_one_line, check_table
from tests.raw_files import write_xlsx
from tui_detector.core.io import columns, engines, formats
from tui_detector.core.io.reader import (
    SUPPORTED_EXTENSIONS,
    ReadError,
    SheetInfo,
    detect_format,
    file_sha256,
    list_sheets,
    read_table,
)


def _load_xlsb_helper():
    # Loaded by path so the test does not depend on how tests/ is laid out as a package.
    path = Path(__file__).resolve().parent.parent / "fixtures_xlsb.py"
    spec = importlib.util.spec_from_file_location("fixtures_xlsb", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    # dataclasses look the defining module up in sys.modules while the class is created.
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return sys.modules[spec.name]


xlsb = _load_xlsb_helper()


# ------------------------------------------------------------------------------------------
# Writers



def write_xls(path: Path, sheets: dict[str, list[list]], hidden: tuple[str, ...] = ()) -> Path:
    import xlwt

    wb = xlwt.Workbook()
    date_style = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    for name, rows in sheets.items():
        ws = wb.add_sheet(name)
        if name in hidden:
            ws.visibility = 1
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, xlsb.ErrorCell):
                    # xlwt's own name table is wrong for #N/A and #VALUE!; pass the BIFF code.
                    ws.row(r).set_cell_error(c, xlsb.ERROR_CODES[value.code])
                elif isinstance(value, (dt.date, dt.datetime)):
                    ws.write(r, c, value, date_style)
                else:
                    ws.write(r, c, value)
    wb.save(str(path))
    return path


def write_ods(path: Path, sheets: dict[str, list[list]]) -> Path:
    with pd.ExcelWriter(path, engine="odf") as xw:
        for name, rows in sheets.items():
            pd.DataFrame(rows).to_excel(xw, sheet_name=name, header=False, index=False)
    return path


# ------------------------------------------------------------------------------------------
# Each file type


def test_xlsx_reads_with_calamine(tmp_path):
    path = write_xlsx(tmp_path / "t.xlsx", {"Data": TABLE})
    t = read_table(path)
    check_table(t)
    assert t.report.file_format == "xlsx"
    assert t.report.engine == "calamine"
    assert t.report.sheet == "Data"
    assert t.report.encoding is None and t.report.delimiter is None
    assert t.excel_rows.dtype == np.int64
    assert t.excel_rows.tolist() == [2, 3, 4]
    assert t.report.seconds >= 0


def test_xlsm_is_recognised(tmp_path):
    path = write_xlsx(tmp_path / "t.xlsm", {"Data": TABLE})
    assert detect_format(path) == "xlsm"
    t = read_table(path)
    check_table(t)
    assert t.report.file_format == "xlsm"


def test_xls(tmp_path):
    rows = [[c.date() if isinstance(c, dt.datetime) else c for c in row] for row in TABLE]
    path = write_xls(tmp_path / "t.xls", {"Data": rows})
    assert detect_format(path) == "xls"
    t = read_table(path)
    check_table(t)
    assert t.report.file_format == "xls"


def test_ods(tmp_path):
    path = write_ods(tmp_path / "t.ods", {"Data": TABLE})
    assert detect_format(path) == "ods"
    t = read_table(path)
    check_table(t)
    assert t.report.file_format == "ods"


def test_xlsb_written_by_hand_is_read(tmp_path):
    from python_calamine import CalamineWorkbook

    rows = [
        ["Quarterly figures"],
        None,
        ["id", "name", "amount", "ok"],
        [1, "alpha", 1.5, True],
        [2, "beta", xlsb.ErrorCell("#DIV/0!"), False],
        [3, "  ", 2.25, None],
    ]
    path = xlsb.write_xlsb(
        tmp_path / "t.xlsb", [("Data", rows, False), ("Secret", [["x", "y"], [1, 2]], True)]
    )
    # The helper itself must produce something a real reader accepts.
    wb = CalamineWorkbook.from_path(str(path))
    assert wb.sheet_names == ["Data", "Secret"]
    assert wb.get_sheet_by_name("Data").to_python()[3] == [1.0, "alpha", 1.5, True]

    assert detect_format(path) == "xlsb"
    infos = list_sheets(path)
    assert [(i.name, i.visible) for i in infos] == [("Data", True), ("Secret", False)]
    assert (infos[0].rows, infos[0].columns) == (6, 4)

    t = read_table(path)
    f = t.frame
    assert t.report.file_format == "xlsb"
    assert t.report.header_row == 3
    assert t.excel_rows.tolist() == [4, 5, 6]
    assert f["id"].dtype == np.int64
    assert f["amount"].isna().tolist() == [False, True, False]
    assert f["name"].isna().tolist() == [False, False, True]
    assert str(f["ok"].dtype) == "boolean" and f["ok"].isna().tolist() == [False, False, True]
    assert "1 error cell (#DIV/0!) read as missing in 'amount'" in t.report.warnings
    assert "1 title row above the header was skipped" in t.report.warnings

    secret = read_table(path, sheet="Secret")
    assert secret.frame.to_dict("list") == {"x": [1], "y": [2]}


# ------------------------------------------------------------------------------------------
# Sheets


def hidden_first_workbook(tmp_path) -> Path:
    return write_xlsx(
        tmp_path / "sheets.xlsx",
        {
            "Secret": [["x"], [1]],
            "Sales": [["a", "b", "c"], [1, 2, 3], [4, 5, 6]],
            "Notes": [["note"], ["hello"]],
        },
        hidden=("Secret",),
    )


def test_list_sheets_sizes_and_visibility(tmp_path):
    infos = list_sheets(hidden_first_workbook(tmp_path))
    assert infos == [
        SheetInfo(name="Secret", index=0, rows=2, columns=1, visible=False),
        SheetInfo(name="Sales", index=1, rows=3, columns=3, visible=True),
        SheetInfo(name="Notes", index=2, rows=2, columns=1, visible=True),
    ]


def test_default_sheet_is_first_visible(tmp_path):
    t = read_table(hidden_first_workbook(tmp_path))
    assert t.report.sheet == "Sales"
    assert list(t.frame.columns) == ["a", "b", "c"]


def test_sheet_by_name_and_index(tmp_path):
    path = hidden_first_workbook(tmp_path)
    assert read_table(path, sheet="Notes").frame["note"].tolist() == ["hello"]
    assert read_table(path, sheet=2).report.sheet == "Notes"
    assert read_table(path, sheet=0).report.sheet == "Secret"


def test_unknown_sheet_lists_sheets(tmp_path):
    path = hidden_first_workbook(tmp_path)
    with pytest.raises(ReadError) as err:
        read_table(path, sheet="Foo")
    assert str(err.value) == "'sheets.xlsx' has no sheet named 'Foo'; sheets: Secret, Sales, Notes"
    with pytest.raises(ReadError) as err:
        read_table(path, sheet=7)
    assert "Secret, Sales, Notes" in str(err.value) and "\n" not in str(err.value)


def test_hidden_sheet_in_xls_and_ods(tmp_path):
    path = write_xls(
        tmp_path / "h.xls", {"Hid": [["a"], [1]], "Shown": [["b"], [2]]}, hidden=("Hid",)
    )
    infos = list_sheets(path)
    assert [(i.name, i.visible) for i in infos] == [("Hid", False), ("Shown", True)]
    assert read_table(path).report.sheet == "Shown"
    ods = write_ods(tmp_path / "two.ods", {"One": [["a"], [1]], "Two": [["b"], [2], [3]]})
    assert [(i.name, i.rows, i.columns) for i in list_sheets(ods)] == [("One", 2, 1), ("Two", 3, 1)]


# ------------------------------------------------------------------------------------------
# Header detection and names


def titled_rows() -> list[list]:
    return [
        ["Expense claims Q3 2026"],
        ["Prepared by finance"],
        [],
        ["employee", "date", "amount", "category"],
        ["Ann", dt.datetime(2026, 7, 1), 12.5, "travel"],
        ["Bob", dt.datetime(2026, 7, 2), 80.0, "meals"],
        [],
        ["Cid", dt.datetime(2026, 7, 9), 7.25, "travel"],
    ]


@pytest.mark.parametrize("engine", ["calamine", "openpyxl"])
def test_title_rows_above_header(tmp_path, engine):
    path = write_xlsx(tmp_path / "claims.xlsx", {"Claims": titled_rows()})
    t = read_table(path, engine=engine)
    assert t.report.header_row == 4
    assert list(t.frame.columns) == ["employee", "date", "amount", "category"]
    assert t.excel_rows[0] == t.report.header_row + 1
    assert t.excel_rows.tolist() == [5, 6, 8]
    assert t.report.dropped_empty_rows == 1
    assert "2 title rows above the header were skipped" in t.report.warnings
    assert t.frame["amount"].tolist() == [12.5, 80.0, 7.25]


def test_excel_rows_when_table_does_not_start_at_a1(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws["C5"], ws["D5"] = "k", "v"
    ws["C6"], ws["D6"] = "x", 1
    ws["C7"], ws["D7"] = "y", 2
    wb.save(tmp_path / "offset.xlsx")
    for engine in ("calamine", "openpyxl"):
        t = read_table(tmp_path / "offset.xlsx", engine=engine)
        assert t.report.header_row == 5
        assert t.excel_rows.tolist() == [6, 7]
        assert t.report.dropped_empty_columns == 0


def test_no_header(tmp_path):
    path = write_xlsx(tmp_path / "nums.xlsx", {"S": [[1, 2.5, 3], [4, 5.5, 6], [7, 8.5, 9]]})
    t = read_table(path)
    assert t.report.header_row is None
    assert list(t.frame.columns) == ["column 1", "column 2", "column 3"]
    assert t.excel_rows.tolist() == [1, 2, 3]
    assert any("no header row found" in w for w in t.report.warnings)

    csv_path = tmp_path / "nums.csv"
    csv_path.write_text("1,2\n3,4\n", encoding="utf-8")
    t = read_table(csv_path)
    assert t.report.header_row is None
    assert t.frame.to_dict("list") == {"column 1": [1, 3], "column 2": [2, 4]}


def test_forced_header_row_and_none(tmp_path):
    path = write_xlsx(tmp_path / "t.xlsx", {"S": titled_rows()})
    t = read_table(path, header_row=4)
    assert list(t.frame.columns) == ["employee", "date", "amount", "category"]
    t = read_table(path, header_row=None)
    assert t.report.header_row is None
    assert t.excel_rows[0] == 1
    assert t.frame.iloc[0, 0] == "Expense claims Q3 2026"
    with pytest.raises(ReadError, match="header row 40 is outside"):
        read_table(path, header_row=40)


def test_duplicate_and_blank_header_names(tmp_path):
    rows = [
        ["amount", " amount ", None, "amount", "Note"],
        [1, 2, 3, 4, "x"],
        [5, 6, 7, 8, None],
    ]
    t = read_table(write_xlsx(tmp_path / "dup.xlsx", {"S": rows}))
    assert list(t.frame.columns) == ["amount", "amount (2)", "column C", "amount (3)", "Note"]
    assert all(isinstance(c, str) for c in t.frame.columns)
    assert t.frame["column C"].tolist() == [3, 7]
    assert any("column C" in w for w in t.report.warnings)

    csv_path = tmp_path / "dup.csv"
    csv_path.write_text("a,,a\n1,2,3\n", encoding="utf-8")
    assert list(read_table(csv_path).frame.columns) == ["a", "column 2", "a (2)"]


def test_empty_columns_and_rows_dropped(tmp_path):
    rows = [
        ["a", None, "b", None],
        [1, None, 2, None],
        [None, None, None, None],
        [3, None, 4, "stray"],
    ]
    t = read_table(write_xlsx(tmp_path / "gaps.xlsx", {"S": rows}))
    assert list(t.frame.columns) == ["a", "b", "column D"]
    assert t.report.dropped_empty_columns == 1
    assert t.report.dropped_empty_rows == 1
    assert t.excel_rows.tolist() == [2, 4]


# ------------------------------------------------------------------------------------------
# Types


def test_dtypes(tmp_path):
    rows = [
        ["ints", "ints_missing", "floats", "dates", "flags", "mixed", "blankish", "times"],
        [1, 10, 1.5, dt.datetime(2024, 1, 1, 8, 30), True, "x", "a", dt.time(9, 15)],
        [2, None, 2.0, dt.datetime(2024, 1, 2), False, 3.0, "   ", dt.time(17, 0)],
        [3, 30, 3.25, dt.datetime(2024, 1, 3), True, dt.datetime(2024, 5, 6), "c", None],
    ]
    t = read_table(write_xlsx(tmp_path / "types.xlsx", {"S": rows}))
    f = t.frame
    assert f["ints"].dtype == np.int64
    assert str(f["ints_missing"].dtype) == "Int64"
    assert f["ints_missing"].tolist()[0] == 10 and pd.isna(f["ints_missing"].iloc[1])
    assert f["floats"].dtype == np.float64
    assert f["dates"].dtype == "datetime64[ns]"
    assert f["dates"].iloc[0] == pd.Timestamp("2024-01-01 08:30")
    assert str(f["flags"].dtype) == "boolean"
    assert f["mixed"].dtype == object
    assert f["mixed"].tolist() == ["x", 3, dt.datetime(2024, 5, 6)]
    assert type(f["mixed"].iloc[1]) is int
    assert pd.isna(f["blankish"].iloc[1])
    assert f["times"].tolist()[:2] == ["09:15:00", "17:00:00"]


def test_big_integer_exact_with_openpyxl_values(tmp_path):
    # openpyxl keeps Python ints; beyond 2**53 they must not pass through float.
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "v"])
    ws.append([1, 1])
    ws.append([2, 2])
    wb.save(tmp_path / "ids.xlsx")
    t = read_table(tmp_path / "ids.xlsx", engine="openpyxl")
    assert t.frame["id"].dtype == np.int64

    ints = columns.convert_native(np.array([2**60 + 1, None, 7], dtype=object))[0]
    assert str(ints.dtype) == "Int64"
    assert int(ints[0]) == 2**60 + 1


def test_error_cells_are_missing_and_counted(tmp_path):
    rows = [
        ["name", "amount", "ratio"],
        ["a", 1.5, "#DIV/0!"],
        ["b", "#N/A", 0.5],
        ["c", 3.5, "#DIV/0!"],
        ["d", "#VALUE!", 0.25],
    ]
    path = write_xlsx(tmp_path / "errors.xlsx", {"S": rows})
    for engine in ("calamine", "openpyxl"):
        t = read_table(path, engine=engine)
        assert t.frame["amount"].dtype == np.float64
        assert t.frame["amount"].isna().tolist() == [False, True, False, True]
        assert t.frame["ratio"].isna().sum() == 2
        warnings = t.report.warnings
        assert "2 error cells (#N/A, #VALUE!) read as missing in 'amount'" in warnings
        assert "2 error cells (#DIV/0!) read as missing in 'ratio'" in warnings


def test_formula_error_with_cached_value(tmp_path):
    # What Excel writes for =1/0: a formula plus a cached error value.
    import xlsxwriter

    path = tmp_path / "formula.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("S")
    ws.write_row(0, 0, ["a", "b"])
    ws.write_row(1, 0, [1, 2.5])
    ws.write(2, 0, 3)
    ws.write_formula(2, 1, "=1/0", None, "#DIV/0!")
    ws.write_row(3, 0, [4, 5.5])
    wb.close()
    t = read_table(path)
    assert t.frame["b"].isna().tolist() == [False, True, False]
    assert t.report.warnings == ["1 error cell (#DIV/0!) read as missing in 'b'"]


def test_error_cells_in_xls(tmp_path):
    rows = [["k", "v"], ["a", 1], ["b", xlsb.ErrorCell("#N/A")], ["c", 3]]
    t = read_table(write_xls(tmp_path / "e.xls", {"S": rows}))
    assert str(t.frame["v"].dtype) == "Int64"
    assert "1 error cell (#N/A) read as missing in 'v'" in t.report.warnings


def test_error_cells_in_ods(tmp_path):
    path = write_ods(tmp_path / "e.ods", {"S": [["k", "v"], ["a", 1], ["b", "PLACEHOLDER"]]})
    # LibreOffice writes formula errors as an empty string value flagged by calcext.
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    content = parts["content.xml"].decode("utf-8")
    start = content.rindex("<table:table-cell", 0, content.index("PLACEHOLDER"))
    end = content.index("</table:table-cell>", start) + len("</table:table-cell>")
    error_cell = (
        '<table:table-cell table:formula="of:=1/0" office:value-type="string" '
        'office:string-value="" calcext:value-type="error"><text:p>#DIV/0!</text:p>'
        "</table:table-cell>"
    )
    content = content[:start] + error_cell + content[end:]
    if "xmlns:calcext" not in content:
        content = content.replace(
            "<office:document-content ",
            '<office:document-content xmlns:calcext="urn:org:documentfoundation:names:'
            'experimental:calc:xmlns:calcext:1.0" ',
            1,
        )
    parts["content.xml"] = content.encode("utf-8")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", parts.pop("mimetype"), compress_type=zipfile.ZIP_STORED)
        for name, data in parts.items():
            zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    from python_calamine import CalamineWorkbook

    # calamine itself hands the cell back as an empty string; the count comes from our scan.
    assert CalamineWorkbook.from_path(str(path)).get_sheet_by_name("S").to_python()[2][1] == ""
    t = read_table(path)
    assert t.frame["v"].isna().tolist() == [False, True]
    assert "1 error cell (#DIV/0!) read as missing in 'v'" in t.report.warnings


def test_openpyxl_engine_matches_calamine(tmp_path):
    rows = [
        ["Title line"],
        [],
        ["id", "name", "amount", "when", "flag", "mixed", "note", None],
        [1, "a", 1.5, dt.datetime(2024, 1, 1), True, "x", None, "loose"],
        [2, "b", None, dt.datetime(2024, 1, 2, 13, 45), False, 2, "n", None],
        [],
        [3, None, 3.0, dt.date(2024, 1, 3), None, dt.datetime(2024, 2, 2), "#N/A", None],
    ]
    path = write_xlsx(tmp_path / "same.xlsx", {"S": rows})
    fast = read_table(path, engine="calamine")
    slow = read_table(path, engine="openpyxl")
    assert fast.report.engine == "calamine" and slow.report.engine == "openpyxl"
    pd.testing.assert_frame_equal(fast.frame, slow.frame)
    assert fast.excel_rows.tolist() == slow.excel_rows.tolist() == [4, 5, 7]
    for attr in (
        "header_row",
        "rows",
        "columns",
        "dropped_empty_rows",
        "dropped_empty_columns",
        "warnings",
    ):
        assert getattr(fast.report, attr) == getattr(slow.report, attr), attr


def test_fallback_to_openpyxl_when_calamine_fails(tmp_path, monkeypatch):
    path = write_xlsx(tmp_path / "t.xlsx", {"Data": TABLE})

    def broken(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(engines, "_calamine_raw", broken)
    t = read_table(path)
    check_table(t)
    assert t.report.engine == "openpyxl"
    assert any("openpyxl" in w and "boom second line" in w for w in t.report.warnings)


# ------------------------------------------------------------------------------------------
# Failures


def test_damaged_xlsx(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ReadError) as err:
        read_table(path)
    assert assert_one_line(err) == (
        "cannot read 'broken.xlsx': it is not a valid xlsx workbook "
        "(file is damaged or not a spreadsheet)"
    )
    with pytest.raises(ReadError):
        list_sheets(path)


def test_truncated_xlsx(tmp_path):
    good = write_xlsx(tmp_path / "good.xlsx", {"Data": TABLE}).read_bytes()
    path = tmp_path / "cut.xlsx"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(ReadError) as err:
        read_table(path)
    assert "not a valid xlsx workbook" in assert_one_line(err)


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    with pytest.raises(ReadError) as err:
        read_table(empty)
    assert assert_one_line(err) == "'empty.xlsx' is empty"
    blank_csv = tmp_path / "blank.csv"
    blank_csv.write_text("\n\n  \n", encoding="utf-8")
    with pytest.raises(ReadError) as err:
        read_table(blank_csv)
    assert "empty" in assert_one_line(err)
    missing = tmp_path / "nope.csv"
    with pytest.raises(ReadError) as err:
        read_table(missing)
    assert assert_one_line(err) == f"file not found: {missing}"
    with pytest.raises(ReadError):
        list_sheets(missing)


def test_empty_sheet(tmp_path):
    path = write_xlsx(tmp_path / "e.xlsx", {"Blank": [], "Data": TABLE})
    with pytest.raises(ReadError) as err:
        read_table(path, sheet="Blank")
    assert assert_one_line(err) == "sheet 'Blank' in 'e.xlsx' is empty"


def test_password_protected_workbook(tmp_path):
    # An encrypted xlsx is a CFB container with an EncryptedPackage stream; the name alone is
    # what the reader looks for once parsing has failed.
    path = tmp_path / "secret.xlsx"
    fake = bytearray(formats.CFB_MAGIC + bytes(504))
    fake += "EncryptedPackage".encode("utf-16-le") + bytes(1024)
    path.write_bytes(bytes(fake))
    with pytest.raises(ReadError) as err:
        read_table(path)
    assert "password-protected" in assert_one_line(err)


def test_wrong_engine_for_format(tmp_path):
    path = write_xls(tmp_path / "t.xls", {"S": [["a"], [1]]})
    with pytest.raises(ReadError, match="openpyxl engine reads only"):
        read_table(path, engine="openpyxl")


# ------------------------------------------------------------------------------------------
# Format detection and hashing


def test_detect_format_by_content(tmp_path):
    xlsx = write_xlsx(tmp_path / "t.xlsx", {"S": TABLE})
    disguised = tmp_path / "export.dat"
    disguised.write_bytes(xlsx.read_bytes())
    assert detect_format(disguised) == "xlsx"
    xls = write_xls(tmp_path / "t.xls", {"S": [["a"], [1]]})
    renamed = tmp_path / "t.xlsx.bak"
    renamed.write_bytes(xls.read_bytes())
    assert detect_format(renamed) == "xls"
    text_named_xls = tmp_path / "really.xls"
    text_named_xls.write_text("a\tb\n1\t2\n", encoding="utf-8")
    assert detect_format(text_named_xls) == "tsv"
    assert read_table(text_named_xls).frame.to_dict("list") == {"a": [1], "b": [2]}
    assert ".xlsb" in SUPPORTED_EXTENSIONS and ".txt" in SUPPORTED_EXTENSIONS


def test_file_sha256(tmp_path):
    import hashlib

    path = tmp_path / "blob.bin"
    data = os.urandom(3 * (1 << 20) + 17)
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    with pytest.raises(ReadError):
        file_sha256(tmp_path / "missing.bin")


def test_sheet_read_row_by_row_equals_calamines_whole_sheet(tmp_path):
    """The row-at-a-time read (which keeps the app's screen live) gives what to_python gives."""
    import openpyxl
    import python_calamine

    from tui_detector.core.io.engines import _sheet_rows

    wb = openpyxl.Workbook()
    ws = wb.active
    ws["D4"], ws["F4"] = "a", 1
    ws["E7"] = 2.5  # a blank row and a blank column inside the used area
    ws["G9"] = "last"
    other = wb.create_sheet("A1 start")
    other.append(["x", "y"])
    other.append([1, None])
    wb.create_sheet("empty")
    wb.save(tmp_path / "shapes.xlsx")
    book = python_calamine.CalamineWorkbook.from_path(str(tmp_path / "shapes.xlsx"))
    for name in book.sheet_names:
        sheet = book.get_sheet_by_name(name)
        assert _sheet_rows(sheet, sheet.start or (0, 0)) == sheet.to_python(), name


# ------------------------------------------------------------------------------------------
# One probe per read


def test_check_path_says_what_is_wrong(tmp_path):
    from tui_detector.core.io.formats import BadPath, check_path

    plain = tmp_path / "a.csv"
    plain.write_text("x\n1\n")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert check_path(plain) == plain and check_path(empty, allow_empty=True) == empty
    for path, kind, message in [
        (tmp_path / "nope.csv", "missing", f"file not found: {tmp_path / 'nope.csv'}"),
        (plain / "inside", "missing", "cannot read 'inside': Not a directory"),
        (tmp_path, "folder", f"not a file: {tmp_path} is a folder"),
        (empty, "empty", "'empty.csv' is empty"),
    ]:
        with pytest.raises(BadPath) as err:
            check_path(path)
        assert (err.value.kind, str(err.value)) == (kind, message)
        assert isinstance(err.value, ReadError)


def test_open_table_probes_the_file_once(tmp_path, monkeypatch):
    from tui_detector.core.io import child, reader

    monkeypatch.setenv(child.MODE_ENV, "0")
    probes = []
    real = reader.check_file

    def counting(probe, known=None):
        probes.append(probe.path)
        return real(probe, known)

    monkeypatch.setattr(reader, "check_file", counting)
    xlsx = write_xlsx(tmp_path / "t.xlsx", {"Data": TABLE})
    csv = tmp_path / "t.csv"
    csv.write_text("a,b\n1,2\n")
    for path in (xlsx, csv):
        probes.clear()
        sheets, loaded = reader.open_table(path)
        assert probes == [path] and len(sheets) == 1 and len(loaded.frame)
