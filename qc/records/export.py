"""Export of stored results (what the History filters show) as CSV or Excel.

One row per stored metric, with its session, machine, date, operator, comment, limits and status;
the same function serves the History page and `python -m qc export`.
"""

from __future__ import annotations

import io

import pandas as pd

EXPORT_COLUMNS = [
    "session_id", "test", "machine", "acquired_at", "metric", "item", "value", "unit", "nominal",
    "act_low", "tol_low", "tol_high", "act_high", "status", "reference", "operator", "comment", "voided",
]


def export_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.reindex(columns=EXPORT_COLUMNS).copy()
    out["acquired_at"] = pd.to_datetime(out["acquired_at"]).dt.strftime("%Y-%m-%d %H:%M:%S")
    return out


def to_bytes(df: pd.DataFrame, fmt: str) -> bytes:
    """CSV (UTF-8 with BOM, so that Excel shows accents) or .xlsx bytes."""
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
