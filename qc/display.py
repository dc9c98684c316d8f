"""Frames for display: every table a physicist sees (pages, CSV/Excel export, PDF) goes through here.

Owns the one translation from stored rows to what is shown: column labels in the user's language
(never a code identifier such as `tol_low` or `station_name`), statuses as words (Conforme, Alerte,
Non conforme, Non mesuré, Sans tolérance; never `pass`/`fail`), metric and test names from the
registry, empty cells blank (never `None`/`nan`), integers as integers, other numbers with a
sensible number of decimals (5 significant digits, at most 4 decimals, trailing zeros dropped; a
decimal comma in French), and tolerance references cleaned of internal developer notes.

`display_frame` is for tables of stored rows (sessions, metrics, tolerances, machines, audit...),
`items_frame` for an analyser's detail rows (`AnalysisResult.items`). Pages, `qc.records.export`
and `qc.reporting.report` call these; no page formats its own table.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import re
from typing import Any, Iterable

import numpy as np
import pandas as pd

from qc.i18n import has, t

#: Status codes as stored (see qc.tolerances) and the extra display-only "unmeasured".
STATUS_CODES = ("pass", "warning", "fail", "none", "unmeasured")
STATUS_ICON = {"pass": "✔", "warning": "⚠", "fail": "✖", "none": "–", "unmeasured": "✖"}
UNIT_SUFFIXES = {"mm": "mm", "cm": "cm", "pct": "%", "deg": "°", "ms": "ms", "px": "px", "s": "s", "kb": "kB", "mb": "MB"}
# Internal developer notes in references and comments, e.g. "(domain.md §3)", "domain.md §13 Q7".
_INTERNAL_REF = re.compile(
    r"domain\.md(?:\s*(?:,|et|and)?\s*(?:§\s*\d+(?:\.\d+)*|App(?:endix|\.)?\s*[A-Z]\b|Q\d+))*", re.IGNORECASE
)
DATE_COLUMNS = ("acquired_at", "created_at", "stored_at", "voided_at", "signed_at", "at", "valid_from")
CATEGORY_COLUMNS = ("kind", "cax_source", "nominal_source", "penumbra_definition", "beam_source")  # analyser codes with a word in the catalogue (display.val.<column>.<code>)
BOOL_COLUMNS = ("voided", "active", "out_of_tolerance", "matched_nominal", "is_demo")


# ------------------------------------------------------------------ single values


def is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    try:
        return bool(pd.isna(v)) if not isinstance(v, (str, bytes, list, tuple, dict)) else False
    except (TypeError, ValueError):
        return False


def fmt_number(v: float, lang: str = "fr", max_decimals: int = 4, significant: int = 5) -> str:
    """A number as a physicist writes it: 336 (not 336.000), 30 (not 30.000000), 511.03, 0.0075,
    1.2346; decimal comma in French; minus sign as "-" so that spreadsheets read it back."""
    if is_missing(v):
        return ""
    x = float(v)
    if math.isinf(x):
        return "+∞" if x > 0 else "−∞"
    if x == int(x) and abs(x) < 1e15:
        text = str(int(x))
    else:
        magnitude = math.floor(math.log10(abs(x))) if x != 0 else 0
        decimals = max(0, min(max_decimals, significant - 1 - magnitude))
        text = f"{x:.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if text in ("-0", ""):
            text = "0"
    return text.replace(".", ",") if lang == "fr" else text


def round_shown(v: Any, max_decimals: int = 4, significant: int = 5) -> Any:
    """A number rounded to the digits `fmt_number` shows (5 significant digits, at most 4 decimals), still a
    number: what a CSV export writes, so that a spreadsheet reads 149.7, not 149.69948079349098."""
    if is_missing(v) or isinstance(v, bool) or not isinstance(v, (int, float)):
        return v
    x = float(v)
    if not math.isfinite(x) or x == int(x):
        return v
    magnitude = math.floor(math.log10(abs(x))) if x != 0 else 0
    return round(x, max(0, min(max_decimals, significant - 1 - magnitude)))


def fmt_datetime(v: Any) -> str:
    """A date or date-time as "YYYY-MM-DD" or "YYYY-MM-DD HH:MM" (seconds and ISO "T" dropped)."""
    if is_missing(v):
        return ""
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        return v.strftime("%Y-%m-%d") if (v.hour, v.minute, v.second) == (0, 0, 0) and not isinstance(v, pd.Timestamp) else v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, dt.date):
        return v.isoformat()
    text = str(v).replace("T", " ")
    return text[:16] if len(text) > 10 else text


def fmt_cell(v: Any, lang: str = "fr") -> str:
    """Any cell as text: blank when missing, Oui/Non for booleans, numbers by `fmt_number`."""
    if is_missing(v):
        return ""
    if isinstance(v, bool):
        return t("display.yes" if v else "display.no", lang)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return fmt_number(v, lang)
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):  # numpy scalar
        try:
            return fmt_cell(v.item(), lang)
        except (ValueError, AttributeError):
            pass
    if isinstance(v, (pd.Timestamp, dt.datetime, dt.date)):
        return fmt_datetime(v)
    if isinstance(v, (list, tuple)):
        return ", ".join(fmt_cell(x, lang) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{column_label(str(k), lang)} : {fmt_cell(x, lang)}" for k, x in v.items())
    text = str(v)
    return clean_reference(text) if "domain.md" in text else text


def status_word(status: Any, lang: str = "fr", value: Any = 0.0, icon: bool = False) -> str:
    """The status as a word; a failed metric whose value is missing reads "Non mesuré"."""
    if is_missing(status) or status == "":
        return ""
    code = str(status)
    if (code == "fail" and is_missing(value)) or code == "not_measured":  # "not_measured": an item's own status
        code = "unmeasured"
    word = t(f"display.status.{code}", lang) if has(f"display.status.{code}") else code
    return f"{STATUS_ICON.get(code, '')} {word}".strip() if icon else word


def clean_reference(text: Any) -> str:
    """A tolerance reference or calibration note without internal developer-file citations
    ("Département ±2 mm (domain.md §9)" → "Département ±2 mm")."""
    if is_missing(text):
        return ""
    out = _INTERNAL_REF.sub("", str(text))
    out = re.sub(r"\(\s*[,;]?\s*", "(", out)
    out = re.sub(r"\s*[,;]?\s*\)", ")", out)
    out = re.sub(r"\s*\(\)", "", out)
    return re.sub(r"\s{2,}", " ", out).strip(" ;,")


def humanise(key: str) -> str:
    """Last resort label of an unknown column: "centre_offset_x_mm" → "Centre offset x (mm)"."""
    parts = [p for p in str(key).split("_") if p]
    if not parts:
        return str(key)
    unit = ""
    if len(parts) > 1 and parts[-1].lower() in UNIT_SUFFIXES:
        unit = UNIT_SUFFIXES[parts.pop().lower()]
    words = " ".join(parts)
    words = words[:1].upper() + words[1:]
    return f"{words} ({unit})" if unit else words


def column_label(key: str, lang: str = "fr", spec=None) -> str:
    """The label of a column: the catalogue's `display.col.<key>`, else the test's metric label
    (with its unit), else a humanised key."""
    if has(f"display.col.{key}"):
        return t(f"display.col.{key}", lang)
    m = spec.metric(key) if spec is not None else None
    if m is not None:
        return f"{m.label(lang)} ({m.unit})" if m.unit else m.label(lang)
    return humanise(key)


def audit_action(action: Any, lang: str = "fr") -> str:
    key = f"display.audit.{action}"
    return t(key, lang) if has(key) else humanise(str(action))


def audit_details(details: Any, lang: str = "fr") -> str:
    """The JSON details of an audit row as "Label : value; …"."""
    if is_missing(details) or details == "":
        return ""
    try:
        data = json.loads(details) if isinstance(details, str) else details
    except ValueError:
        return str(details)
    if isinstance(data, dict):
        spec = _builtin_spec(data.get("test"))

        def value(k: str, v: Any) -> str:
            if k == "test" and spec is not None:
                return spec.name(lang)
            if k == "metric" and spec is not None and spec.metric(str(v)) is not None:
                return spec.metric(str(v)).label(lang)
            if k in ("role",) and has(f"role.{v}"):
                return t(f"role.{v}", lang)
            return fmt_cell(v, lang)

        return "; ".join(f"{column_label(str(k), lang)} : {value(str(k), v)}" for k, v in data.items() if k != "password_hash")
    return fmt_cell(data, lang)


@functools.lru_cache(maxsize=64)
def _builtin_spec(key: Any):
    if not key or not isinstance(key, str):
        return None
    from qc.registry import find_test

    return find_test(key)  # that test's module only


# ------------------------------------------------------------------ frames


def _metric_labeller(spec, specs_by_key: dict | None, lang: str):
    def label(row_metric: str, row_test: str | None = None) -> str:
        s = spec
        if s is None and specs_by_key and row_test in specs_by_key:
            s = specs_by_key[row_test]
        m = s.metric(row_metric) if s is not None else None
        return m.label(lang) if m is not None else str(row_metric)

    return label


def display_frame(
    df: pd.DataFrame,
    lang: str = "fr",
    columns: Iterable[str] | None = None,
    *,
    spec=None,
    specs: Iterable | None = None,
    numbers: str = "text",
    icons: bool = False,
) -> pd.DataFrame:
    """`df` (stored rows with their code column names) ready to show: chosen `columns` in order,
    each with its label; statuses, tests, metrics, dates, booleans, references and audit entries
    as words; numbers as text (`numbers="text"`) or kept as numbers for a spreadsheet (`"keep"`,
    missing ones left empty). `spec` labels metric names; `specs` maps the `test` column to names."""
    specs_by_key = {s.key: s for s in specs} if specs is not None else None
    cols = [c for c in (list(columns) if columns is not None else list(df.columns)) if c in df.columns and not str(c).startswith("_")]
    src = df.reset_index(drop=True)
    out: dict[str, Any] = {}
    metric_label = _metric_labeller(spec, specs_by_key, lang)
    missing_value = src["value"].isna().to_numpy() if "value" in src.columns else None
    for c in cols:
        s = src[c]
        if c == "status":
            vals = _map_unique(s, lambda v: status_word(v, lang, 0.0, icon=icons))
            if missing_value is not None:
                unmeasured = (s.to_numpy(dtype=object) == "fail") & missing_value
                vals[unmeasured] = status_word("unmeasured", lang, icon=icons)
        elif c == "test" and specs_by_key is not None:
            vals = _map_unique(s, lambda v: specs_by_key[v].name(lang) if isinstance(v, str) and v in specs_by_key else fmt_cell(v, lang))
        elif c in ("metric", "name") and (spec is not None or specs_by_key is not None) and "unit" in src.columns:
            if "test" in src.columns and spec is None:
                pairs = src["test"].astype(str) + "\x1f" + s.astype(str)
                vals = _map_unique(pairs, lambda p: "" if p is None else metric_label(p.split("\x1f", 1)[1], p.split("\x1f", 1)[0]))
            else:
                vals = _map_unique(s, lambda v: "" if is_missing(v) else metric_label(v, None))
        elif c in ("reference", "comment", "void_reason"):
            vals = _map_unique(s, clean_reference)
        elif c == "action":
            vals = _map_unique(s, lambda v: audit_action(v, lang))
        elif c in CATEGORY_COLUMNS:
            vals = _map_unique(s, lambda v: t(f"display.val.{c}.{v}", lang) if has(f"display.val.{c}.{v}") else fmt_cell(v, lang))
        elif c == "entity":
            vals = _map_unique(s, lambda v: column_label(str(v), lang) if not is_missing(v) and v != "" else "")
        elif c == "details":
            vals = _map_unique(s, lambda v: audit_details(v, lang))
        elif c == "role":
            vals = _map_unique(s, lambda v: t(f"role.{v}", lang) if has(f"role.{v}") else fmt_cell(v, lang))
        elif c == "mode":
            vals = _map_unique(s, lambda v: t(f"set.mode_{v}", lang) if has(f"set.mode_{v}") else fmt_cell(v, lang))
        elif c == "frequency":
            vals = _map_unique(s, lambda v: t(f"freq.{v}", lang) if has(f"freq.{v}") else fmt_cell(v, lang))
        elif c in DATE_COLUMNS:
            if pd.api.types.is_datetime64_any_dtype(s):
                vals = s.dt.strftime("%Y-%m-%d %H:%M").fillna("").to_numpy(dtype=object)
            else:
                vals = _map_unique(s, fmt_datetime)
        elif c in BOOL_COLUMNS:
            vals = _map_unique(s, lambda v: t("display.yes", lang) if (not is_missing(v) and bool(v)) else ("" if c == "voided" else t("display.no", lang)))
        elif pd.api.types.is_integer_dtype(s) and not pd.api.types.is_bool_dtype(s):
            vals = pd.array(s, dtype="Int64")  # counts and numbers stay integers (sortable)
        elif numbers == "keep" and pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            vals = [None if is_missing(v) else (int(v) if float(v) == int(v) and c.endswith("id") else float(v)) for v in s]
        elif c == "value" and numbers == "text":
            vals = _map_unique(s, lambda v: "—" if is_missing(v) else fmt_cell(v, lang))
        else:
            vals = _map_unique(s, lambda v: fmt_cell(v, lang))
        out[column_label(c, lang, spec)] = vals
    return pd.DataFrame(out)


def _map_unique(s: pd.Series, fn) -> np.ndarray:
    """`fn` applied once per distinct value of `s` (missing values included), as an object array:
    a History table of 20 000 rows has a few distinct machines, units, statuses, operators."""
    arr = s.to_numpy(dtype=object)
    try:
        codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists, dicts)
        return np.array([fn(v) for v in arr] + [None], dtype=object)[:-1]
    filler = fn(None) if (codes < 0).any() else ""
    table = np.array([fn(u) for u in uniques] + [filler], dtype=object)
    return table[codes]


def items_frame(items: list[dict], lang: str = "fr", spec=None, drop: Iterable[str] = ("value_text", "key", "acquired_at")) -> pd.DataFrame:
    """An analyser's detail rows (`AnalysisResult.items`) labelled and formatted for display."""
    if not items:
        return pd.DataFrame()
    df = pd.DataFrame(items)
    cols = [c for c in df.columns if c not in set(drop)]
    return display_frame(df, lang, cols, spec=None if spec is None else _ItemSpec(spec))


class _ItemSpec:
    """Wraps a TestSpec so that `display_frame` labels item columns named after metrics, without
    turning the item's `name`/`metric` cells into labels (items have no `unit` column in common)."""

    def __init__(self, spec) -> None:
        self._spec = spec

    def metric(self, name: str):
        return self._spec.metric(name)


def fmt_bounds(bounds, unit: str = "", lang: str = "fr") -> str:
    """Limits as shown: "[-1 ; 1] mm" or, with distinct action levels, "[-0,75 ; 0,75] / [-1 ; 1] mm";
    "—" when the value is not judged (decimal comma in French)."""
    if bounds is None or all(is_missing(b) for b in bounds):
        return "—"
    act_low, tol_low, tol_high, act_high = (None if is_missing(b) else float(b) for b in bounds)

    def lo(v):
        return "−∞" if v is None else fmt_number(v, lang)

    def hi(v):
        return "+∞" if v is None else fmt_number(v, lang)

    text = f"[{lo(tol_low)} ; {hi(tol_high)}]"
    if (act_low, act_high) != (tol_low, tol_high) and (act_low is not None or act_high is not None):
        text += f" / [{lo(act_low)} ; {hi(act_high)}]"
    return f"{text} {unit or ''}".strip()


def no_cax_warning(lang: str, file: str, date: Any, calibrations: Iterable[dict], uc: float, vc: float) -> str:
    """The beam-axis warning when no calibration is in force on the image's date: says which date
    is missing and which calibration exists (it may only start later), or that there is none at all.
    `calibrations` are the machine's rows (u0, v0, valid_from)."""
    cals = sorted((c for c in calibrations if c.get("valid_from")), key=lambda c: str(c["valid_from"]))
    if not cals:
        return t("geom.warn.no_cax_at_all", lang, file=file, uc=fmt_number(uc, lang), vc=fmt_number(vc, lang))
    first = cals[0]
    return t("geom.warn.no_cax_on_date", lang, file=file, date=fmt_datetime(date)[:10], u=fmt_number(first["u0"], lang), v=fmt_number(first["v0"], lang),
             valid_from=fmt_datetime(first["valid_from"])[:10], uc=fmt_number(uc, lang), vc=fmt_number(vc, lang))
