"""Export of stored results (what the History filters show) as CSV or Excel.

One row per stored metric, with its session, machine, date, operator, comment, limits and status;
the same function serves the History page and `python -m qc export`.

Every text cell is neutralised against formula injection (OWASP "CSV Injection"): a comment or a
name typed as `=HYPERLINK(...)` must reach the spreadsheet as text, never as a live formula.
"""

from __future__ import annotations

import io
import math

import pandas as pd

# Characters that make Excel, LibreOffice or Google Sheets read a cell as a formula (OWASP).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

EXPORT_COLUMNS = [
    "session_id", "test", "machine", "acquired_at", "metric", "item", "value", "unit", "nominal",
    "act_low", "tol_low", "tol_high", "act_high", "status", "reference", "operator", "comment", "voided",
]


def export_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.reindex(columns=EXPORT_COLUMNS).copy()
    out["acquired_at"] = pd.to_datetime(out["acquired_at"]).dt.strftime("%Y-%m-%d %H:%M:%S")
    return out


def neutralise_cell(value):
    """A text cell that a spreadsheet would run as a formula, prefixed with an apostrophe so that
    it shows as typed (OWASP CSV Injection); numbers, and text that is only a number ("-1.5"),
    are left unchanged. A carriage return inside a text becomes a line feed: the CSV writer quotes
    a cell holding a line feed, not one holding a bare carriage return, which Excel would take for
    the start of a new row (and of a new, unneutralised cell)."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_TRIGGERS):
        try:
            number = math.isfinite(float(value.strip()))
        except ValueError:
            number = False
        if not number:
            value = "'" + value
    return value.replace("\r\n", "\n").replace("\r", "\n")


def neutralise(df: pd.DataFrame) -> pd.DataFrame:
    """Every text cell of the frame through `neutralise_cell` (numeric columns are not touched)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(neutralise_cell)
    return out


def to_bytes(df: pd.DataFrame, fmt: str) -> bytes:
    """CSV (UTF-8 with BOM, so that Excel shows accents) or .xlsx bytes, text cells neutralised."""
    df = neutralise(df)
    if fmt == "csv":
        return df.to_csv(index=False).encode("utf-8-sig")
    if fmt == "xlsx":
        buf = io.BytesIO()
        with pd.ExcelWriter(buf, engine="openpyxl") as writer:
            df.to_excel(writer, index=False, sheet_name="QC")
        return buf.getvalue()
    raise ValueError(f"unknown export format {fmt!r} (csv or xlsx)")


def export_metrics(store, *, test=None, machine_id=None, date_from=None, date_to=None, fmt="csv", include_voided=False) -> bytes:
    df = store.metrics_frame(machine_id=machine_id, test=test, date_from=date_from, date_to=date_to, include_voided=include_voided)
    return to_bytes(export_frame(df), fmt)
