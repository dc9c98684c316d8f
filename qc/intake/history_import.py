"""Import of a logged test's history from a CSV or Excel (.xlsx) file: one row per entry.

A department keeps its MR-to-MV, helium or output history in a spreadsheet; the vendor's own export
format is not known (domain.md §10, §13 item 12). This module reads such a file and turns each row
into the same entry the form would make:

- **File** (`read_table`): CSV in the French dialect (`;`, decimal comma) or the English one (`,`,
  decimal point; a tab also separates), UTF-8 with or without BOM, UTF-16 with BOM, else
  Windows-1252/latin-1; or the first sheet of an .xlsx workbook (other non-empty sheets are named in
  a note). Bounded: `MAX_IMPORT_BYTES` (5 MB, the PIQT report limit), `MAX_IMPORT_ROWS` entries,
  `MAX_IMPORT_COLUMNS` columns, `MAX_CELL_CHARS` characters a cell, `MAX_XLSX_INFLATED_BYTES`
  once an .xlsx (a zip) is inflated.
- **Columns** (`match_columns`): matched to the test's fields by their French or English label or
  their key, case-, accent- and punctuation-insensitive, a trailing "(unit)" allowed when it is the
  field's unit (a different unit is refused: "Pression (hPa)" for a kPa field). Plus a date column
  (required), optional operator and comment columns, and for a pass/fail item its comment column
  ("<label> — commentaire"). A column naming a derived value is recognised and reported (the app
  recomputes it); any other column with values is an error (never silently dropped).
- **Rows**: the date of each row is required (dd/mm/yyyy, yyyy-mm-dd, with an optional time, or an
  Excel date cell); it is never guessed (no "today", no month/day swap, no two-digit year, no future
  date). Each row goes through `qc.pipeline.record_logged` — the form's validation (`QCInputErrors`:
  required, not a number, impossible value, failed item without comment) and judgement with the
  tolerance in force on the row's own date; a rate (helium decline) sees the stored readings and the
  file's earlier rows.
- **All or nothing** (`store_import`): any bad row → nothing stored, one sentence per bad cell with
  its line number and column. Duplicates — an entry of the same machine, test and day with the same
  values already stored, or repeated in the file — are reported; they are skipped only when the user
  confirms (`skip_duplicates=True`), otherwise nothing is stored. Refusing by default keeps the
  "nothing silently dropped" rule; confirming lets a physicist re-import a spreadsheet that grew.
  Every entry of one import is stored in one transaction with one audit row ("import_logged").
- Text cells (operator, comment, text fields) are stored as typed, as text; a cell such as
  `=cmd|' /C calc'!A0` is never evaluated and is neutralised when exported (`qc.records.export`).

`template_bytes` gives the CSV header a physicist fills in (labels in the user's language).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from typing import Any

from qc.errors import QCInputError
from qc.i18n import t

MAX_IMPORT_BYTES = 5 * 1024**2  # same bound as a PIQT report (qc.mr.piqt.MAX_REPORT_BYTES)
MAX_IMPORT_ROWS = 5000  # a daily test for 13 years; more is split by year
MAX_IMPORT_COLUMNS = 60
MAX_CELL_CHARS = 2000
MAX_XLSX_INFLATED_BYTES = 50 * 1024**2  # an .xlsx is a zip: bound what it inflates to before openpyxl reads it
MAX_XLSX_ENTRIES = 1000

DATE_ALIASES = {
    "date", "jour", "date de mesure", "date de la mesure", "date d acquisition", "date du controle", "date du test",
    "date et heure", "acquisition date", "measurement date", "date of measurement", "date of the check", "acquired at",
    "date time", "datetime",
}
OPERATOR_ALIASES = {"operateur", "operatrice", "operator", "realise par", "performed by", "utilisateur", "user", "par", "by"}
COMMENT_ALIASES = {"commentaire", "commentaires", "comment", "comments", "remarque", "remarques", "remark", "remarks",
                   "observation", "observations", "note", "notes"}
ITEM_COMMENT_SUFFIXES = ("commentaire", "comment", "remarque", "remark")

TRUE_WORDS = {"1", "true", "vrai", "pass", "ok", "oui", "yes", "y", "o", "conforme", "c"}
FALSE_WORDS = {"0", "false", "faux", "fail", "nok", "ko", "non", "no", "n", "non conforme", "nc"}

_DATE_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})(?:[ T](\d{1,2})[:h](\d{2})(?::(\d{2}))?)?$")
_DATE_YMD = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2})[:h](\d{2})(?::(\d{2})(?:\.\d+)?)?)?$")
_TRAILING_PAREN = re.compile(r"^(.*?)\s*\(([^()]*)\)\s*$")


# ------------------------------------------------------------------ results


@dataclass
class ImportRow:
    """One entry of the file, judged as the form would judge it."""

    line: int
    acquired_at: dt.datetime
    values: dict[str, Any]
    comments: dict[str, str]
    operator: str = ""
    comment: str = ""
    analysis: Any = None  # qc.pipeline.Analysis
    duplicate: str = ""  # why it is a duplicate ("" when it is not)
    duplicate_session: int | None = None

    @property
    def status(self) -> str:
        return self.analysis.status if self.analysis is not None else ""


@dataclass
class ImportPlan:
    """What an import would store: the judged rows, the errors (nothing is stored while there is one)
    and the notes (reported, not blocking)."""

    spec: Any  # qc.spec.TestSpec of a logged test
    machine: dict
    filename: str
    sha256: str
    lang: str = "fr"
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)  # header → what it was matched to ("date", field key, ...)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def duplicates(self) -> list[ImportRow]:
        return [r for r in self.rows if r.duplicate]

    def to_store(self, skip_duplicates: bool = False) -> list[ImportRow]:
        return [r for r in self.rows if not (skip_duplicates and r.duplicate)]

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "warning": 0, "fail": 0, "none": 0}
        for r in self.rows:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "test": self.spec.key,
            "machine": self.machine["name"],
            "file": self.filename,
            "sha256": self.sha256,
            "errors": list(self.errors),
            "notes": list(self.notes),
            "rows": [
                {
                    "line": r.line,
                    **{k: v for k, v in r.analysis.to_json_dict().items() if k in ("acquired_at", "metrics", "units", "statuses", "status", "warnings")},
                    "operator": r.operator,
                    "comment": r.comment,
                    "duplicate": r.duplicate,
                }
                for r in self.rows
            ],
        }


# ------------------------------------------------------------------ reading the file


@dataclass
class Table:
    headers: list[str]
    rows: list[tuple[int, list[Any]]]  # (line number in the file, cells)
    notes: list[str] = field(default_factory=list)
    formula_cells: set[tuple[int, int]] = field(default_factory=set)  # (line, column) holding a formula with no stored result
    percent_cells: set[tuple[int, int]] = field(default_factory=set)  # (line, column) of numbers shown in Excel's % format
    source: str = "csv"


def _too_large(name: str, size: int) -> QCInputError:
    return QCInputError("imp.err.too_large", file=name, mb=f"{size / 1024**2:.1f}", limit_mb=MAX_IMPORT_BYTES // 1024**2)


def read_table(name: str, data: bytes, lang: str = "fr") -> Table:
    """The header and the non-empty rows of a CSV or .xlsx file (raises QCInputError for the whole file)."""
    if len(data) > MAX_IMPORT_BYTES:
        raise _too_large(name, len(data))
    lower = name.lower()
    if data[:4] == b"PK\x03\x04" or lower.endswith((".xlsx", ".xlsm")):
        table = _read_xlsx(name, data, lang)
    elif lower.endswith((".xls", ".ods", ".numbers")) or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise QCInputError("imp.err.format", file=name)
    else:
        table = _read_csv(name, data)
    if not table.headers or not any(str(h).strip() for h in table.headers):
        raise QCInputError("imp.err.empty", file=name)
    if len(table.headers) > MAX_IMPORT_COLUMNS:
        raise QCInputError("imp.err.too_many_columns", file=name, n=len(table.headers), limit=MAX_IMPORT_COLUMNS)
    if not table.rows:
        raise QCInputError("imp.err.empty", file=name)
    return table


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")  # what a French Excel writes for "CSV (séparateur : point-virgule)"
        except UnicodeDecodeError:
            return data.decode("latin-1")


def _read_csv(name: str, data: bytes) -> Table:
    if b"\x00" in data and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise QCInputError("imp.err.format", file=name)
    text = _decode(data)
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    delimiter = ";" if ";" in first else ("\t" if "\t" in first else ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    headers: list[str] | None = None
    rows: list[tuple[int, list[Any]]] = []
    start = 1
    try:
        for cells in reader:
            line = start
            start = reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if headers is None:
                headers = [c.strip() for c in cells]
                continue
            rows.append((line, cells))
            if len(rows) > MAX_IMPORT_ROWS:
                raise QCInputError("imp.err.too_many_rows", file=name, limit=MAX_IMPORT_ROWS)
    except csv.Error as exc:
        raise QCInputError("imp.err.csv", file=name, line=reader.line_num, reason=str(exc)) from None
    return Table(headers or [], rows, source="csv")


def _read_xlsx(name: str, data: bytes, lang: str) -> Table:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_XLSX_ENTRIES or sum(i.file_size for i in infos) > MAX_XLSX_INFLATED_BYTES:
                raise _too_large(name, max(len(data), sum(i.file_size for i in infos)))
    except zipfile.BadZipFile:
        raise QCInputError("imp.err.format", file=name) from None
    import openpyxl

    try:
        wb_values = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        wb_formulas = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types on a damaged or non-Excel zip
        raise QCInputError("imp.err.unreadable", file=name, reason=type(exc).__name__) from None
    try:
        sheets = wb_values.worksheets
        if not sheets:
            raise QCInputError("imp.err.empty", file=name)
        ws, wf = sheets[0], wb_formulas.worksheets[0]
        # Read-only sheets trust the file's <dimension> element: a stale one (written by many tools)
        # would make iter_rows stop early and drop the rows beyond it without a word.
        ws.reset_dimensions()
        wf.reset_dimensions()
        headers: list[str] | None = None
        rows: list[tuple[int, list[Any]]] = []
        formulas: set[tuple[int, int]] = set()
        percent: set[tuple[int, int]] = set()
        for line, (row_cells, raw) in enumerate(
            zip(ws.iter_rows(max_col=MAX_IMPORT_COLUMNS + 1), wf.iter_rows(values_only=True, max_col=MAX_IMPORT_COLUMNS + 1)), start=1
        ):
            if line > 4 * MAX_IMPORT_ROWS:  # empty rows (styled cells only) are skipped, not counted: bound them too
                raise QCInputError("imp.err.too_many_rows", file=name, limit=MAX_IMPORT_ROWS)
            cells = [c.value for c in row_cells]
            # Excel keeps 80 % as 0.8 in a cell formatted as a percentage: the number typed is 100× the stored one
            percent |= {(line, j) for j, c in enumerate(row_cells)
                        if isinstance(c.value, (int, float)) and not isinstance(c.value, bool) and "%" in str(getattr(c, "number_format", "") or "")}
            if not any(_filled(c) for c in cells):
                continue
            if headers is None:
                headers = ["" if c is None else str(c).strip() for c in cells]
                while headers and not headers[-1]:
                    headers.pop()
                continue
            for j, (v, r) in enumerate(zip(cells, raw)):
                if v is None and isinstance(r, str) and r.startswith("="):
                    formulas.add((line, j))
            rows.append((line, cells))
            if len(rows) > MAX_IMPORT_ROWS:
                raise QCInputError("imp.err.too_many_rows", file=name, limit=MAX_IMPORT_ROWS)
        notes = []
        others = [s.title for s in sheets[1:] if _sheet_has_values(s)]
        if others:
            notes.append(t("imp.note.other_sheets", lang, sheet=ws.title, others=", ".join(f"« {o} »" if lang == "fr" else f'"{o}"' for o in others)))
        return Table(headers or [], rows, notes=notes, formula_cells=formulas, percent_cells=percent, source="xlsx")
    except QCInputError:
        raise
    except Exception as exc:  # openpyxl parses the sheet lazily: a damaged cell or XML fails here, not at load
        raise QCInputError("imp.err.unreadable", file=name, reason=type(exc).__name__) from None
    finally:
        wb_values.close()
        wb_formulas.close()


def _sheet_has_values(ws) -> bool:
    for row in ws.iter_rows(values_only=True, max_row=50, max_col=MAX_IMPORT_COLUMNS):
        if any(_filled(c) for c in row):
            return True
    return False


def _filled(v: Any) -> bool:
    return v is not None and not (isinstance(v, str) and not v.strip())


# ------------------------------------------------------------------ columns


def norm(text: Any) -> str:
    """A header as compared: no accents, lower case, punctuation as single spaces."""
    s = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii").lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", s).split())


def match_columns(
    spec, headers: list[str], lang: str = "fr", filled: set[int] | None = None
) -> tuple[dict[int, tuple[str, str]], list[str], list[str]]:
    """Each column index → (role, key): ("date", ""), ("operator", ""), ("comment", ""), ("field", key),
    ("item_comment", key), ("derived", key), ("empty", ""). Returns (mapping, errors, notes).

    An unknown column is an error when it holds a value (`filled`: the indexes of columns holding one;
    None: every column), a note when it is empty (nothing is lost)."""
    test = spec.definition
    name = spec.name(lang)
    exact: dict[str, tuple[str, str]] = {}
    for a in DATE_ALIASES:
        exact[a] = ("date", "")
    for a in OPERATOR_ALIASES:
        exact[a] = ("operator", "")
    for a in COMMENT_ALIASES:
        exact[a] = ("comment", "")
    units: dict[str, str] = {}
    for f in test.fields:
        for cand in (f.key, f.label_fr, f.label_en):
            exact[norm(cand)] = ("field", f.key)
        units[f.key] = f.unit
        if f.kind == "passfail":
            for cand in (f.key, f.label_fr, f.label_en):
                for suffix in ITEM_COMMENT_SUFFIXES:
                    exact[norm(f"{cand} {suffix}")] = ("item_comment", f.key)
    for d in test.derived:
        for cand in (d.key, d.label_fr, d.label_en):
            exact.setdefault(norm(cand), ("derived", d.key))
        units[d.key] = d.unit
    mapping: dict[int, tuple[str, str]] = {}
    errors: list[str] = []
    notes: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    for i, header in enumerate(headers):
        h = str(header or "").strip()
        if not h:
            mapping[i] = ("empty", "")
            continue
        role = exact.get(norm(h))
        if role is None:
            m = _TRAILING_PAREN.match(h)
            if m:
                base = exact.get(norm(m.group(1)))
                if base is not None:
                    unit = m.group(2).strip()
                    expected = units.get(base[1], "")
                    if base[0] in ("field", "derived") and norm(unit) != norm(expected) and unit != expected:
                        errors.append(t("imp.err.unit_mismatch", lang, column=h, unit=unit, field=_label(test, base[1], lang), expected=expected or "—"))
                        mapping[i] = ("bad", base[1])
                        continue
                    role = base
        if role is None:
            if filled is not None and i not in filled:
                notes.append(t("imp.note.empty_column", lang, column=h))
                mapping[i] = ("empty", "")
            else:
                errors.append(t("imp.err.unknown_column", lang, column=h, test=name, expected=_expected(test, lang)))
                mapping[i] = ("bad", "")
            continue
        if role in seen and role[0] != "empty":
            errors.append(t("imp.err.duplicate_column", lang, column=h, other=seen[role], what=_role_label(test, role, lang)))
            mapping[i] = ("bad", "")
            continue
        seen[role] = h
        mapping[i] = role
        if role[0] == "derived":
            notes.append(t("imp.note.derived", lang, column=h, field=_label(test, role[1], lang)))
    if ("date", "") not in seen:
        errors.insert(0, t("imp.err.no_date_column", lang))
    for f in test.fields:
        if f.required and f.default is None and ("field", f.key) not in seen and not any(r == ("bad", f.key) for r in mapping.values()):
            errors.append(t("imp.err.missing_column", lang, field=f.label(lang), test=name, expected=_expected(test, lang)))
    return mapping, errors, notes


def _label(test, key: str, lang: str) -> str:
    for f in list(test.fields) + list(test.derived):
        if f.key == key:
            return f.label(lang)
    return key


def _role_label(test, role: tuple[str, str], lang: str) -> str:
    kind, key = role
    if kind in ("field", "derived"):
        return _label(test, key, lang)
    if kind == "item_comment":
        return f"{_label(test, key, lang)} — {t('imp.col.comment', lang).lower()}"
    return t(f"imp.col.{kind}", lang)


def template_headers(spec, lang: str = "fr") -> list[str]:
    """The columns of the template: date, each field (label and unit), item comments, operator, comment."""
    test = spec.definition
    out = [t("imp.col.date_template", lang)]
    for f in test.fields:
        label = f.label(lang)
        out.append(f"{label} ({f.unit})" if f.unit else label)
        if f.kind == "passfail":
            out.append(f"{label} — {t('imp.col.comment', lang).lower()}")
    out += [t("imp.col.operator", lang), t("imp.col.comment", lang)]
    return out


def _expected(test, lang: str) -> str:
    spec_like = type("S", (), {"definition": test})
    return ", ".join(template_headers(spec_like, lang))


def template_bytes(spec, lang: str = "fr") -> bytes:
    """A CSV with the right headers in the user's language (French: `;`, UTF-8 with BOM, as Excel opens it)."""
    sep = ";" if lang == "fr" else ","
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator="\r\n").writerow(template_headers(spec, lang))
    return buf.getvalue().encode("utf-8-sig")


# ------------------------------------------------------------------ cells


def parse_date_cell(value: Any, source: str, now: dt.datetime | None = None) -> dt.datetime:
    """The date of a row: a date cell, dd/mm/yyyy or yyyy-mm-dd with an optional HH:MM[:SS]; an .xlsx
    date serial number. Never guessed: raises QCInputError for an empty, ambiguous or future date."""
    now = now or dt.datetime.now()
    when: dt.datetime | None = None
    if not _filled(value):
        raise QCInputError("imp.err.date_missing")
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, dt.date):
        when = dt.datetime.combine(value, dt.time())
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and source == "xlsx":
        if not (math.isfinite(value) and 1 <= value < 2958466):
            raise QCInputError("imp.err.date_bad", value=f"{value:g}")
        from openpyxl.utils.datetime import from_excel

        when = from_excel(value)
    else:
        text = str(value).strip()
        m = _DATE_YMD.match(text)
        try:
            if m:
                y, mo, d, hh, mm, ss = m.groups()
                when = dt.datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
            else:
                m = _DATE_DMY.match(text)
                if m is None:
                    raise QCInputError("imp.err.date_bad", value=text)
                d, mo, y, hh, mm, ss = m.groups()
                if len(y) != 4:
                    raise QCInputError("imp.err.date_two_digit_year", value=text)
                when = dt.datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
        except ValueError:
            raise QCInputError("imp.err.date_bad", value=text) from None
    when = when.replace(microsecond=0, tzinfo=None)
    if when.year < 1990:
        raise QCInputError("imp.err.date_bad", value=str(value))
    if when.date() > now.date():
        raise QCInputError("imp.err.date_future", value=when.strftime("%d/%m/%Y"))
    return when


def _text_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d") if value.time() == dt.time() else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _verdict_cell(value: Any) -> bool | None:
    if not _filled(value):
        return None
    if isinstance(value, bool):
        return value
    word = norm(_text_cell(value))
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise QCInputError("imp.err.not_a_verdict", value=_text_cell(value))


# ------------------------------------------------------------------ the plan


def plan_import(store, spec, machine: dict, filename: str, data: bytes, *, lang: str = "fr", now: dt.datetime | None = None) -> ImportPlan:
    """Read, check and judge every row of the file (nothing is stored). Problems of the whole file raise
    QCInputError; problems of rows and columns are collected in `plan.errors`, one sentence each."""
    from qc import pipeline

    if spec.kind != "logged" or spec.definition is None:
        raise QCInputError("imp.err.not_logged", test=spec.name(lang))
    if machine is None:
        raise QCInputError("err.unknown_machine", machine="", known=", ".join(m["name"] for m in store.machines()) or "—")
    table = read_table(filename, data, lang)
    plan = ImportPlan(spec=spec, machine=machine, filename=filename, sha256=hashlib.sha256(data).hexdigest(), lang=lang)
    plan.notes += table.notes
    test = spec.definition
    filled = {i for _, cells in table.rows for i, c in enumerate(cells) if _filled(c)}
    mapping, col_errors, col_notes = match_columns(spec, table.headers, lang, filled)
    present = {key for role, key in mapping.values() if role == "field"}
    plan.errors += col_errors
    plan.notes += col_notes
    plan.columns = {table.headers[i] if i < len(table.headers) else "": f"{role}:{key}" for i, (role, key) in mapping.items()}
    fields = {f.key: f for f in test.fields}
    header_of = {key: table.headers[i] for i, (role, key) in mapping.items() if role == "field"}
    label_to_key = {f.label(lang): f.key for f in test.fields}
    parsed: list[ImportRow] = []
    row_errs: list[tuple[int, str]] = []
    for line, cells in table.rows:
        row_errors: list[str] = []

        def bad(column: str, message: str) -> None:
            row_errors.append(t("imp.err.row", lang, line=line, column=column, message=message) if column else t("imp.err.row_line", lang, line=line, message=message))

        width = len(table.headers)
        extra = [c for c in cells[width:] if _filled(c)]
        if extra:
            bad("", t("imp.err.extra_cells", lang, n=width + len(extra), m=width))
        values: dict[str, Any] = {}
        comments: dict[str, str] = {}
        when: dt.datetime | None = None
        operator = comment = ""
        bad_keys: set[str] = set()  # fields whose cell is already reported on this line
        for i, header in enumerate(table.headers):
            role, key = mapping.get(i, ("bad", ""))
            cell = cells[i] if i < len(cells) else None
            if (line, i) in table.formula_cells:
                bad(header, t("imp.err.formula_no_value", lang))
                bad_keys.add(key)
                continue
            if isinstance(cell, str) and len(cell) > MAX_CELL_CHARS:
                bad(header, t("imp.err.cell_too_long", lang, n=len(cell), limit=MAX_CELL_CHARS))
                bad_keys.add(key)
                continue
            if role == "empty":
                if _filled(cell):
                    bad("", t("imp.err.unnamed_column", lang, col=_col_name(i)))
                continue
            try:
                if role == "date":
                    when = parse_date_cell(cell, table.source, now)
                elif role == "operator":
                    operator = _text_cell(cell)
                elif role == "comment":
                    comment = _text_cell(cell)
                elif role == "item_comment":
                    comments[key] = _text_cell(cell)
                elif role == "field":
                    f = fields[key]
                    if f.kind == "passfail":
                        values[key] = _verdict_cell(cell)
                    elif f.kind == "text":
                        values[key] = _text_cell(cell)
                    elif (line, i) in table.percent_cells:
                        if f.unit != "%":  # a percentage in a field in mm, kPa…: which number was meant is unknown
                            raise QCInputError("imp.err.percent_cell", value=round(cell * 100, 10), unit=f.unit or "—")
                        values[key] = round(cell * 100, 10)  # the number shown (and typed) in the cell
                    else:
                        values[key] = cell if isinstance(cell, (int, float)) and not isinstance(cell, bool) else _text_cell(cell)
            except QCInputError as exc:
                bad(header, exc.message(lang))
                bad_keys.add(key)
        if row_errors or when is None:  # no date: its sentence is already listed (cell or column)
            # The values are still checked as the form would (every problem of the line at once);
            # a field without a column is reported once, for the column, not on every line.
            try:
                test.evaluate(values, acquired_at=when or dt.datetime.now(), comments=comments, lang=lang)
            except QCInputError as exc:
                for e in getattr(exc, "errors", [exc]):
                    key = label_to_key.get(str(e.params.get("field", "")), "")
                    if key in present and key not in bad_keys:
                        bad(header_of[key], cell_message(e, lang))
            except (ArithmeticError, ValueError):
                pass
            row_errs += [(line, e) for e in row_errors]
            continue
        parsed.append(ImportRow(line=line, acquired_at=when, values=values, comments=comments, operator=operator, comment=comment))
    if not parsed:
        plan.errors += [e for _, e in sorted(row_errs, key=lambda x: x[0])]
        return plan
    # Judge in date order so that a rate (helium decline) sees the file's earlier rows.
    rate_fields = [d.rate_of for d in test.derived if d.rate_of]
    earlier: dict[str, list[tuple[dt.datetime, float]]] = {k: [] for k in rate_fields}
    for row in sorted(parsed, key=lambda r: (r.acquired_at, r.line)):
        try:
            before = {k: [r for r in v if r[0] < row.acquired_at] for k, v in earlier.items()}
            row.analysis = pipeline.record_logged(store, spec, machine, row.values, acquired_at=row.acquired_at, comments=row.comments,
                                                  lang=lang, earlier=before)
        except QCInputError as exc:
            for e in getattr(exc, "errors", [exc]):
                key = label_to_key.get(str(e.params.get("field", "")), "")
                if key and key not in present and col_errors:
                    continue  # reported once, for the missing column
                row_errs.append((row.line, t("imp.err.row", lang, line=row.line, column=header_of.get(key, e.params.get("field", "")), message=cell_message(e, lang))))
            continue
        except (ArithmeticError, ValueError) as exc:  # a formula of a custom test that cannot be computed for these values
            row_errs.append((row.line, t("imp.err.row_line", lang, line=row.line, message=t("imp.err.formula", lang, error=t("imp.err.div_zero" if isinstance(exc, ZeroDivisionError) else "imp.err.math", lang)))))
            continue
        measured = {m.name: m.value for m in row.analysis.result.measurements if not m.item}
        for k in rate_fields:
            if measured.get(k) is not None:
                earlier[k].append((row.acquired_at, float(measured[k])))
        plan.rows.append(row)
    plan.errors += [e for _, e in sorted(row_errs, key=lambda x: x[0])]
    plan.rows.sort(key=lambda r: r.line)
    _mark_duplicates(store, plan, lang)
    return plan


def cell_message(exc: QCInputError, lang: str) -> str:
    """The form's sentence for a bad value, without the field name (the line's column already names it)."""
    short = "imp.cell." + exc.key.rsplit(".", 1)[-1]
    from qc.i18n import has

    return t(short, lang, **exc.params) if exc.key.startswith("logged.err.") and has(short) else exc.message(lang)


def _col_name(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


def _fingerprint(test, result_values: dict[str, Any], texts: dict[str, str]) -> tuple:
    out = []
    for f in test.fields:
        if f.kind == "text":
            out.append((f.key, (texts.get(f.key) or "").strip()))
        else:
            v = result_values.get(f.key)
            out.append((f.key, None if v is None else round(float(v), 9)))
    return tuple(out)


def _mark_duplicates(store, plan: ImportPlan, lang: str) -> None:
    """Mark rows whose day and values are already stored (non-voided) or repeat an earlier row of the file;
    note a stored entry of the same day with other values (both are kept)."""
    from qc.records.sessions import metric_values_of_sessions, sessions_of_days

    test = plan.spec.definition
    days = sorted({r.acquired_at.date().isoformat() for r in plan.rows})
    by_day: dict[str, list[tuple[int, tuple]]] = {}
    if days:
        sessions = sessions_of_days(store, plan.machine["id"], plan.spec.key, days[0], days[-1])
        wanted = [x for x in sessions if x["day"] in set(days)]
        metrics = metric_values_of_sessions(store, [x["id"] for x in wanted])
        for x in wanted:
            texts = (json.loads(x["params"] or "{}") or {}).get("texts", {})
            by_day.setdefault(x["day"], []).append((x["id"], _fingerprint(test, metrics[x["id"]], texts)))
    seen: dict[tuple, int] = {}
    for row in plan.rows:
        res = row.analysis.result
        mine = _fingerprint(test, {m.name: m.value for m in res.measurements}, res.params.get("texts", {}))
        day = row.acquired_at.date()
        key = (day, mine)
        if key in seen:
            row.duplicate = t("imp.dup.in_file", lang, line=seen[key])
            continue
        seen[key] = row.line
        other = None
        for sid, theirs in by_day.get(day.isoformat(), []):
            if theirs == mine:
                row.duplicate = t("imp.dup.stored", lang, session=sid)
                row.duplicate_session = sid
                break
            other = other or sid
        if not row.duplicate and other is not None:
            plan.notes.append(t("imp.note.same_day", lang, line=row.line, date=day.strftime("%d/%m/%Y"), session=other))


# ------------------------------------------------------------------ storing


def store_import(store, plan: ImportPlan, *, user: str, skip_duplicates: bool = False) -> list[int]:
    """Store every entry of the plan in one transaction, or nothing; returns the new session ids.

    Refuses (QCInputError, nothing stored) while the plan has errors, or has duplicates the user did
    not confirm skipping. The session's operator is the row's operator column, else `user`; one audit
    row names the file, its hash, the sessions and the duplicates skipped."""
    from qc import pipeline

    if plan.errors:
        raise QCInputError("imp.err.nothing_stored", n=len(plan.errors))
    if plan.duplicates and not skip_duplicates:
        raise QCInputError("imp.err.duplicates_unconfirmed", n=len(plan.duplicates))
    rows = plan.to_store(skip_duplicates)
    if not rows:
        raise QCInputError("imp.err.nothing_new", file=plan.filename)
    ids: list[int] = []
    with store.write():
        # checked again under the write lock: an entry stored since the preview (another import of the same
        # file, a colleague's form) must not be stored twice
        flagged, notes = {r.line for r in plan.rows if r.duplicate}, list(plan.notes)
        _mark_duplicates(store, plan, "fr")
        plan.notes = notes
        if {r.line for r in rows if r.duplicate} - flagged:
            raise QCInputError("imp.err.stored_meanwhile", file=plan.filename)
        for row in sorted(rows, key=lambda r: (r.acquired_at, r.line)):
            row.analysis.result.params["imported_from"] = {"file": plan.filename, "line": row.line, "sha256": plan.sha256}
            ids.append(pipeline.store_analysis(store, row.analysis, operator=row.operator or user, comment=row.comment))
        store._audit(
            user,
            "import_logged",
            "sessions",
            f"{ids[0]}-{ids[-1]}",
            {"test": plan.spec.key, "machine_id": plan.machine["id"], "file": plan.filename, "sha256": plan.sha256,
             "n_stored": len(ids), "n_skipped": len(plan.rows) - len(rows), "sessions": ids},
        )
    return ids
