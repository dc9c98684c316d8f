"""Export of stored results (what the History filters show) as CSV or Excel.

One row per stored metric, with its session, machine, date, operator, comment, limits and status;
the same function serves the History page and `python -m qc export`. Columns are labelled and
statuses written as words by `qc.display` (the same labels as the pages); numbers stay numbers.

CSV dialects: "fr" (the default in French) is what a French Excel opens in columns on a
double-click: `;` separator, decimal comma, UTF-8 with BOM (accents); "en" is `,` and decimal point.

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

#: CSV dialect → (separator, decimal mark).
DIALECTS = {"fr": (";", ","), "en": (",", ".")}


def export_frame(df: pd.DataFrame, lang: str = "fr", specs=None, numbers: str = "keep") -> pd.DataFrame:
    """The stored rows with labelled columns, statuses as words, test and metric names (qc.display)."""
    from qc.display import display_frame
    from qc.registry import all_tests

    out = df.reindex(columns=EXPORT_COLUMNS).copy()
    out["acquired_at"] = pd.to_datetime(out["acquired_at"]).dt.strftime("%Y-%m-%d %H:%M:%S")
    return display_frame(out, lang, EXPORT_COLUMNS, specs=specs if specs is not None else all_tests(), numbers=numbers)


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


def rounded_as_shown(df: pd.DataFrame) -> pd.DataFrame:
    """Float columns rounded to the digits the pages show (`qc.display.round_shown`): a CSV is read by people
    and spreadsheets, full float precision (149,69948079349098) is noise. The Excel export keeps full precision."""
    from qc.display import round_shown

    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col].dtype):
            out[col] = out[col].map(round_shown)
    return out


def to_bytes(df: pd.DataFrame, fmt: str, dialect: str = "fr") -> bytes:
    """CSV (UTF-8 with BOM, so that Excel shows accents; `dialect` "fr" or "en"; numbers rounded as shown) or
    .xlsx bytes (full precision), text cells neutralised."""
    df = neutralise(df)
    if fmt == "csv":
        if dialect not in DIALECTS:
            raise ValueError(f"unknown CSV dialect {dialect!r} (fr or en)")
        sep, decimal = DIALECTS[dialect]
        df = rounded_as_shown(df)
        return df.to_csv(index=False, sep=sep, decimal=decimal).encode("utf-8-sig")
    if fmt == "xlsx":
        buf = io.BytesIO()
        with pd.ExcelWriter(buf, engine="openpyxl") as writer:
            df.to_excel(writer, index=False, sheet_name="QC")
        return buf.getvalue()
    raise ValueError(f"unknown export format {fmt!r} (csv or xlsx)")


def export_metrics(store, *, test=None, machine_id=None, date_from=None, date_to=None, fmt="csv", include_voided=False,
                   lang: str = "fr", dialect: str | None = None) -> bytes:
    """Stored results as CSV/Excel bytes; the CSV dialect defaults to the language's ("fr" → `;` and decimal comma)."""
    from qc.registry import all_tests

    df = store.metrics_frame(machine_id=machine_id, test=test, date_from=date_from, date_to=date_to, include_voided=include_voided)
    return to_bytes(export_frame(df, lang, all_tests(store)), fmt, dialect=dialect or ("fr" if lang == "fr" else "en"))
