"""The reader on delimited text: decoding, delimiter sniffing, decimal commas, ragged rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.fixtures_tables import assert_one_line, check_table
from tui_detector.core.io.reader import ReadError, SheetInfo, detect_format, list_sheets, read_table


def test_csv(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        "id,name,amount,when,ok\n"
        "1,alpha,1.5,2024-01-02,true\n"
        "2,beta,2.25,2024-02-03,false\n"
        "3,gamma,10,2024-03-04,TRUE\n",
        encoding="utf-8",
    )
    t = read_table(path)
    check_table(t, dates=False)
    # Dates in text files stay text: another module decides what they are.
    assert t.frame["when"].tolist() == ["2024-01-02", "2024-02-03", "2024-03-04"]
    assert t.report.file_format == "csv"
    assert t.report.engine == "csv"
    assert t.report.sheet is None
    assert t.report.encoding == "utf-8"
    assert t.report.delimiter == ","
    assert t.excel_rows is None


def test_tsv(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("id\tname, with comma\n1\ta,b\n2\tc\n", encoding="utf-8")
    t = read_table(path)
    assert t.report.file_format == "tsv"
    assert t.report.delimiter == "\t"
    assert list(t.frame.columns) == ["id", "name, with comma"]
    assert t.frame["name, with comma"].tolist() == ["a,b", "c"]


def test_txt_sniffs_tab(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("a\tb\tc\n1\t2\t3\n4\t5\t6\n", encoding="utf-8")
    assert detect_format(path) == "tsv"
    assert read_table(path).frame["c"].tolist() == [3, 6]


def test_semicolon_decimal_comma(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text(
        "Artikel;Preis;Menge;Notiz\n"
        "Apfel;1,25;3;rot, süß\n"
        "Birne;1.234,50;10;\n"
        "Kiwi;0,5;7;grün\n",
        encoding="utf-8",
    )
    t = read_table(path)
    assert t.report.delimiter == ";"
    assert t.frame["Preis"].dtype == np.float64
    assert t.frame["Preis"].tolist() == [1.25, 1234.5, 0.5]
    assert t.frame["Menge"].dtype == np.int64
    assert t.frame["Notiz"].tolist()[0] == "rot, süß"
    assert pd.isna(t.frame["Notiz"].iloc[1])


def test_utf16_csv(tmp_path):
    path = tmp_path / "u16.csv"
    path.write_bytes("name,city\nZoë,Kraków\nJürgen,Zürich\n".encode("utf-16"))
    t = read_table(path)
    assert t.report.encoding in ("utf-16-le", "utf-16-be")
    assert t.frame["city"].tolist() == ["Kraków", "Zürich"]
    assert t.frame["name"].tolist() == ["Zoë", "Jürgen"]


def test_cp1252_csv(tmp_path):
    path = tmp_path / "win.csv"
    path.write_bytes("name;price\nCafé;3,50 €\nCrème brûlée;4\n".encode("cp1252"))
    t = read_table(path)
    assert t.report.encoding == "cp1252"
    assert t.frame["name"].tolist() == ["Café", "Crème brûlée"]
    assert t.frame["price"].tolist() == ["3,50 €", "4"]
    assert any("not valid UTF-8" in w for w in t.report.warnings)


def test_utf8_bom_csv(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfid,v\n1,2\n")
    t = read_table(path)
    assert t.report.encoding == "utf-8-sig"
    assert list(t.frame.columns) == ["id", "v"]


def test_csv_ragged_rows_and_nul_bytes(tmp_path):
    path = tmp_path / "messy.csv"
    path.write_bytes(b"a,b,c\n1,2,3\n4,5\n6,7,8,9,10\n1\x00,2,3\n")
    t = read_table(path)
    f = t.frame
    assert list(f.columns[:3]) == ["a", "b", "c"]
    assert len(f) == 4
    assert f["a"].tolist() == [1, 4, 6, 1]
    assert pd.isna(f["c"].iloc[1])
    assert "column 5" in f.columns and f["column 5"].iloc[2] == 10
    assert any("more fields" in w for w in t.report.warnings)
    assert any("NUL" in w for w in t.report.warnings)


def test_csv_big_integers_stay_exact(tmp_path):
    path = tmp_path / "ids.csv"
    big = 2**60 + 1
    path.write_text(f"id,code,n\n{big},00123,1\n{big + 2},00456,\n5,00789,3\n", encoding="utf-8")
    f = read_table(path).frame
    assert f["id"].dtype == np.int64
    assert f["id"].tolist() == [big, big + 2, 5]
    # Leading zeros make it a code, not a number.
    assert f["code"].tolist() == ["00123", "00456", "00789"]
    assert str(f["n"].dtype) == "Int64"
    assert f["n"].isna().tolist() == [False, True, False]


def test_list_sheets_for_csv(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("a,b\n1,2\n3,4\n", encoding="utf-8")
    assert list_sheets(path) == [SheetInfo("people", 0, 3, 2, True)]


def test_title_rows_in_csv(tmp_path):
    path = tmp_path / "report.csv"
    path.write_text("Monthly report\n\nregion,sales\nnorth,10\nsouth,20\n", encoding="utf-8")
    t = read_table(path)
    assert t.report.header_row == 3
    assert t.frame.to_dict("list") == {"region": ["north", "south"], "sales": [10, 20]}


def test_binary_junk_with_csv_name(tmp_path):
    path = tmp_path / "junk.csv"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(ReadError) as err:
        read_table(path)
    assert "neither a spreadsheet nor a text file" in assert_one_line(err)


def test_single_column_csv(tmp_path):
    # A one-column frame hands back a read-only array under pandas' copy-on-write.
    path = tmp_path / "ids.csv"
    path.write_text("id\n" + "".join(f"{i}\n" for i in range(50)))
    loaded = read_table(path)
    assert list(loaded.frame.columns) == ["id"]
    assert loaded.frame["id"].tolist() == list(range(50))
