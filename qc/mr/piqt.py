"""PIQT report import: reads the HTML report of Philips' Periodic Image Quality Test and keeps every value
with its own criterion.

This module owns the parsing of one PIQT ``.htm/.html`` report (stdlib ``html.parser`` only), the
analyser that turns it into an `AnalysisResult` (one `Measurement` per measured value and one item row per
value, each carrying the report's own "C" criterion as data) and, at the end, plotting helpers for the page.
The analyser measures; it does not judge: the pipeline gives every verdict by its one rule
(`qc.tolerances.judge_measurements` and `judge_items`), with the tolerance in force on the report's date when the
dated tolerance table has one for that parameter (a physicist's stricter limit), else with the report's criterion.

Report structure (domain.md §6 and Appendix A): a sequence of blocks, each opened by a section title in a
``<span>`` ("Flood Field Uniformity", "Spatial Linearity", "Slice Profile", "Spatial Resolution"; a section
may repeat for other scans), then a small table (``Date``, ``List Type``, ``Applied Verification File(s)``),
a table of system items (two key/value pairs per row), and the results table: scan header rows
(``Scan_Name``, ``Scan_Date``, ``Echo_No``, ``Echo_Time``...) then one row per result, each value followed by
its criterion cell (``C > 66``, ``C < 42``, ``C4.65 - 5.15`` or a bare ``C``).

Decisions (documented here because they change what is stored):
- A truncated report (no closing ``</html>``/``</body>``, or a table still open at the end of the file) is
  REFUSED (`QCInputError("piqt.err.truncated")`): the analyser returns a complete result or raises; nothing
  partial is ever stored.
- A criterion is the limits (`Criterion.limits`: both tolerance and action level, no warning band) given to the
  pipeline, which applies them inclusively (``C > 66`` passes at 66.0, `qc.tolerances.judge_value`); the report
  prints values to 1–3 decimals so the difference is only at the bound.
- A missing value (``-``, ``NaN``) that has a criterion is not measured and fails (the pipeline's rule); without a
  criterion it has no verdict. ``n_failing`` (values outside their limits or not measured, as the report counts
  them) is counted by the pipeline from the judged rows (`MetricSpec.counts_items`).
- Text results (``Nema_Phantom`` = RAMP...) are kept in ``items`` (``value_text``) but are not Measurements.
- ``item`` = "{scan} / echo {n}"; when the report gives one parameter for the same scan and echo on several
  slices, " / slice {s}" is put before the echo so that like is still compared with like.
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from qc.readers.dicom_io import expand_inputs, sha256_of
from qc.errors import QCInputError
from qc.i18n import t
from qc.spec import AnalysisContext, DemoSessions, MetricSpec, TestSpec
from qc.results import AnalysisResult, InputFile, Measurement
from qc.tolerances import FAIL, JUDGED_BY, NOT_MEASURED

TEST_KEY = "piqt"

KNOWN_SECTIONS = ("Flood Field Uniformity", "Spatial Linearity", "Slice Profile", "Spatial Resolution")

# Scan header rows of the results table (domain.md Appendix A): scan/column attributes, not results.
HEADER_ROWS = (
    "Patient", "Scan_Name", "Scan_Date", "Scan_Time", "Bw/Pixel", "Trans_Q", "Drive", "RF_Factor", "Rec_Q",
    "Req_Att", "Central_freq", "Coil_type", "Actual_12nc", "Original_serial_nr", "Scan_Seq", "Off_cen_dist",
    "Image_Type", "Slice_No", "Echo_No", "Dyn_Scan_No", "Dist_sel", "Echo_Time", "SNR_Factor", "Meas_Ok",
    "Verify_Ok",
)
_HEADER_KEYS = {h.lower(): h for h in HEADER_ROWS}

# Tokens the console writes for a value it could not measure.
_MISSING_TOKENS = {"", "-", "--", "—", "–", "nan", "n/a", "na", "*", "?"}

_NUM = r"[+\-−]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+\-]?\d+)?"
_RE_NUMBER = re.compile(rf"^({_NUM})\s*(%|mm|deg|°|ms|hz|Hz)?$")
_RE_NUM_FRAGMENT = re.compile(r"^[+\-−]?[\d.,]*$")
# A criterion cell starts with "C" followed by no letter (a bare "C", "C > x", "C < x", "Ca - b").
_RE_CRITERION_LIKE = re.compile(r"^C(?![A-Za-z_])")
_RE_CRIT_LOWER = re.compile(rf"^C\s*(?:>=?|≥)\s*({_NUM})$")
_RE_CRIT_UPPER = re.compile(rf"^C\s*(?:<=?|≤)\s*({_NUM})$")
_RE_CRIT_RANGE = re.compile(rf"^C\s*({_NUM})\s*(?:-|–|to)\s*({_NUM})$")

# A real PIQT report is a few tens of kB (the demo report is 52 kB); 100 times that is refused at
# once, before decoding or parsing (a 150 MB "report" took minutes and 1.6 GB, issue 18).
MAX_REPORT_BYTES = 5 * 1024**2

_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


# ================================================================ data types


@dataclass(frozen=True)
class Criterion:
    """A report criterion: its text and the limits it sets (None = open side).

    ``C > x`` → lower x; ``C < x`` → upper x; ``Ca - b`` → [a, b]; a bare ``C`` → no limit
    (domain.md §6, prior app `_validate_criterion`). `recognised` is False for a "C..." string of another form.
    """

    text: str
    lower: float | None = None
    upper: float | None = None
    recognised: bool = True

    @property
    def has_limits(self) -> bool:
        return self.lower is not None or self.upper is not None

    def limits(self) -> tuple[float | None, float | None, float | None, float | None] | None:
        """As `Measurement.limits`: the criterion is both the tolerance and the action level (no warning band)."""
        if not self.has_limits:
            return None
        return (self.lower, self.lower, self.upper, self.upper)


NO_CRITERION = Criterion("")


@dataclass
class ScanColumn:
    """One value column of a results table: a scan, one of its echoes (and slice), with its header fields."""

    scan: str
    echo: int
    te_ms: float | None
    slice_no: int | None
    coil: str
    scan_date: dt.datetime | None
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class PiqtValue:
    """One result of the report: a value (float, None when missing) or a text, with its criterion."""

    section: str
    section_index: int
    parameter: str
    column: ScanColumn
    value: float | None
    value_text: str
    criterion: Criterion
    is_text: bool = False
    item: str = ""


@dataclass
class PiqtSection:
    """One block of the report (a section title, its info/system tables and its results)."""

    title: str
    index: int
    known: bool
    meta: dict[str, str] = field(default_factory=dict)
    columns: list[ScanColumn] = field(default_factory=list)
    values: list[PiqtValue] = field(default_factory=list)


@dataclass
class PiqtReport:
    """A whole parsed report. `warnings` are (catalogue key, params), translated by the analyser."""

    sections: list[PiqtSection]
    system: dict[str, str]
    report_date: dt.datetime | None
    report_date_text: str
    acquired_at: dt.datetime | None
    encoding: str
    warnings: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def values(self) -> list[PiqtValue]:
        return [v for s in self.sections for v in s.values]


# ================================================================ decoding and small parsers


def decode_report(data: bytes) -> tuple[str, str]:
    """The report's text and the encoding used: BOM (utf-8/utf-16/utf-32) first, then utf-8, then the
    charset the document declares, then latin-1 (which decodes any byte)."""
    for bom, enc in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
                     (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(enc, errors="replace"), enc
    # UTF-16 without a BOM: every other byte of ASCII markup is NUL.
    head = data[:200]
    if head and head.count(b"\x00") > len(head) // 3:
        enc = "utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"
        return data.decode(enc, errors="replace"), enc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    m = re.search(rb"""(?:charset|encoding)\s*=\s*["']?([A-Za-z0-9_\-]+)""", data[:2048])
    if m:
        declared = m.group(1).decode("ascii", "ignore")
        try:
            codecs.lookup(declared)
            return data.decode(declared), declared.lower()
        except (LookupError, UnicodeDecodeError):
            pass
    return data.decode("latin-1"), "latin-1"


def _to_float(text: str) -> float:
    """A number written with a decimal point or a decimal comma (one separator, as PIQT exports write them)."""
    s = text.replace("−", "-")
    if "," in s and "." not in s:
        s = s.replace(",", ".")
    elif "," in s and "." in s:  # "1.234,5" (dot thousands) or "1,234.5" (comma thousands)
        s = s.replace(".", "").replace(",", ".") if s.rfind(",") > s.rfind(".") else s.replace(",", "")
    return float(s)


def parse_criterion(text: str) -> Criterion | None:
    """The criterion in a cell, or None if the cell is not a criterion (see `Criterion`)."""
    s = " ".join(text.split())
    if not _RE_CRITERION_LIKE.match(s):
        return None
    if s == "C":
        return Criterion(s)
    if m := _RE_CRIT_LOWER.match(s):
        return Criterion(s, lower=_to_float(m.group(1)))
    if m := _RE_CRIT_UPPER.match(s):
        return Criterion(s, upper=_to_float(m.group(1)))
    if m := _RE_CRIT_RANGE.match(s):
        lo, hi = _to_float(m.group(1)), _to_float(m.group(2))
        return Criterion(s, lower=min(lo, hi), upper=max(lo, hi))
    return Criterion(s, recognised=False)


def parse_value(text: str) -> tuple[float | None, bool]:
    """(number or None, is_text): a number (decimal comma accepted, a trailing unit ignored), a missing
    value (``-``, ``NaN``, empty) as (None, False), or a text result such as RAMP as (None, True)."""
    s = " ".join(text.split())
    if s.lower() in _MISSING_TOKENS:
        return None, False
    m = _RE_NUMBER.match(s)
    if m:
        try:
            return _to_float(m.group(1)), False
        except ValueError:
            pass
    return None, True


def _cell_lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.split("\n") if line.strip()]


def _split_result_cell(text: str) -> tuple[str, Criterion | None]:
    """Value text and criterion of one result cell. Handles a value wrapped over several lines (joined back
    when every line is a piece of a number, e.g. "71.\\n8") and a criterion on the cell's last line."""
    lines = _cell_lines(text)
    if not lines:
        return "", None
    whole = parse_criterion(" ".join(lines))
    if whole is not None:
        return "", whole
    crit = None
    if len(lines) > 1 and (c := parse_criterion(lines[-1])) is not None:
        crit, lines = c, lines[:-1]
    if len(lines) > 1 and all(_RE_NUM_FRAGMENT.match(x) for x in lines):
        return "".join(lines), crit
    return " ".join(lines), crit


def _parse_scan_datetime(date_text: str, time_text: str) -> dt.datetime | None:
    """`Scan_Date` dd-mm-YYYY (also / or . separators, or ISO YYYY-mm-dd) plus `Scan_Time` HH:MM[:SS]."""
    d = None
    if m := re.match(r"^\s*(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})", date_text or ""):
        day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
    elif m := re.match(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})", date_text or ""):
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        return None
    try:
        d = dt.datetime(year, month, day)
    except ValueError:
        return None
    if m := re.match(r"^\s*(\d{1,2})[:h.](\d{2})(?::(\d{2}))?", time_text or ""):
        try:
            d = d.replace(hour=int(m.group(1)), minute=int(m.group(2)), second=int(m.group(3) or 0))
        except ValueError:
            pass
    return d


def _parse_report_date(text: str) -> dt.datetime | None:
    """The report's `Date` in English long form, e.g. "Fri, 22 Jun 2018 08:02:57" (locale-independent)."""
    m = re.search(r"(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?\s+(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?", text or "")
    if m and m.group(2).lower() in _MONTHS:
        try:
            return dt.datetime(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)),
                               int(m.group(4) or 0), int(m.group(5) or 0), int(m.group(6) or 0))
        except ValueError:
            return None
    return _parse_scan_datetime(text, text.split()[-1] if text and text.split() else "")


def _norm(name: str) -> str:
    return " ".join(name.split())


# ================================================================ HTML → headings and tables


@dataclass
class _Cell:
    text: str
    colspan: int = 1


@dataclass
class _Table:
    rows: list[list[_Cell]] = field(default_factory=list)


class _ReportHTML(HTMLParser):
    """Flattens the document into ("heading", text) and ("table", _Table) events in document order.

    Headings are the texts of span/b/strong/h1-h6/font elements outside tables (the section titles sit
    in a bold Arial ``<span>``). Nested tables become their own tables; ``<br>`` becomes a line break.
    """

    HEADING_TAGS = {"span", "b", "strong", "h1", "h2", "h3", "h4", "h5", "h6", "font"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple[str, Any]] = []
        self.stack: list[_Table] = []
        self.cell: list[_Cell | None] = []  # open cell per open table
        self.heading_depth = 0
        self.heading_buf: list[str] = []
        self.closed = False  # saw </html> or </body>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            tbl = _Table()
            self.events.append(("table", tbl))
            self.stack.append(tbl)
            self.cell.append(None)
        elif not self.stack:
            if tag in self.HEADING_TAGS:
                self.heading_depth += 1
            elif tag == "br" and self.heading_depth:
                self.heading_buf.append(" ")
        elif tag == "tr":
            self.stack[-1].rows.append([])
            self.cell[-1] = None
        elif tag in ("td", "th"):
            if not self.stack[-1].rows:
                self.stack[-1].rows.append([])
            try:
                span = max(1, int(dict(attrs).get("colspan") or 1))
            except ValueError:
                span = 1
            c = _Cell("", span)
            self.stack[-1].rows[-1].append(c)
            self.cell[-1] = c
        elif tag == "br" and self.cell[-1] is not None:
            self.cell[-1].text += "\n"

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.stack:
            self.stack.pop()
            self.cell.pop()
        elif tag in ("html", "body"):
            self.closed = True
        elif not self.stack:
            if tag in self.HEADING_TAGS and self.heading_depth:
                self.heading_depth -= 1
                if not self.heading_depth:
                    text = _norm("".join(self.heading_buf))
                    self.heading_buf = []
                    if text:
                        self.events.append(("heading", text))
        elif tag in ("td", "th"):
            self.cell[-1] = None

    def handle_data(self, data: str) -> None:
        if self.stack:
            if self.cell[-1] is not None:
                self.cell[-1].text += data
        elif self.heading_depth:
            self.heading_buf.append(data)


# ================================================================ results table → values


@dataclass
class _Entry:
    """One value slot of a row: its text, its criterion and the table slots it covers (colspans)."""

    text: str
    criterion: Criterion | None
    width: int = 1


def _header_entries(cells: list[_Cell]) -> list[_Entry]:
    out = [_Entry(" / ".join(_cell_lines(c.text)), None, c.colspan) for c in cells]
    while out and not out[-1].text:
        out.pop()
    return out


def _result_entries(cells: list[_Cell]) -> list[_Entry]:
    """Pairs each value with the criterion cell that follows it (or that shares its cell)."""
    out: list[_Entry] = []
    for c in cells:
        text, crit = _split_result_cell(c.text)
        if not text and crit is not None and out and out[-1].criterion is None:
            out[-1].criterion = crit
            out[-1].width += c.colspan
        else:
            out.append(_Entry(text, crit, c.colspan))
    while out and not out[-1].text and out[-1].criterion is None:
        out.pop()  # padding cells at the end of a row
    return out


def _assign_columns(
    scan_entries: list[_Entry], echo_entries: list[_Entry] | None, n_cols: int, file: str, section: str
) -> list[int]:
    """Scan index of each value column.

    Same count: one column per scan. Colspans present: a column belongs to the scan whose span covers it.
    Otherwise the echo numbers restart at each new scan (a scan's echoes increase), which splits the columns.
    """
    n_scans = len(scan_entries)
    if n_cols == n_scans:
        return list(range(n_scans))
    if echo_entries and (any(e.width > 1 for e in scan_entries) or any(e.width > 1 for e in echo_entries)):
        s_total = sum(e.width for e in scan_entries)
        e_total = sum(e.width for e in echo_entries)
        bounds, acc = [], 0
        for e in scan_entries:
            bounds.append((acc / s_total, (acc + e.width) / s_total))
            acc += e.width
        out, acc = [], 0
        for e in echo_entries:
            mid = (acc + e.width / 2) / e_total
            acc += e.width
            out.append(next((i for i, (a, b) in enumerate(bounds) if a <= mid < b), n_scans - 1))
        if len(set(out)) == n_scans:
            return out
    if echo_entries and len(echo_entries) == n_cols:
        echoes = [parse_value(e.text)[0] for e in echo_entries]
        if all(x is not None for x in echoes):
            out, k = [0], 0
            for prev, cur in zip(echoes, echoes[1:]):
                if cur <= prev:  # type: ignore[operator]
                    k += 1
                out.append(k)
            if k + 1 == n_scans:
                return out
    raise QCInputError("piqt.err.layout", file=file, section=section or "?", n_cols=n_cols, n_scans=n_scans, row="Echo_No")


def _row_name(row: list[_Cell]) -> str:
    lines = _cell_lines(row[0].text) if row else []
    return lines[0] if lines else ""


def _parse_results(table: _Table, section: PiqtSection, file: str, warnings: list) -> None:
    """Reads one results table into `section.columns` and `section.values`. A table that stacks several
    scan groups (a new ``Patient``/``Scan_Name`` header after result rows) is read group by group."""
    groups: list[list[list[_Cell]]] = [[]]
    has_results = False
    for row in table.rows:
        key = _HEADER_KEYS.get(_row_name(row).lower())
        if key in ("Patient", "Scan_Name") and has_results:
            groups.append([])
            has_results = False
        elif key is None and _row_name(row) and any(r and _HEADER_KEYS.get(_row_name(r).lower()) == "Scan_Name" for r in groups[-1]):
            has_results = True
        groups[-1].append(row)
    for rows in groups:
        _parse_group(rows, section, file, warnings)


def _parse_group(rows: list[list[_Cell]], section: PiqtSection, file: str, warnings: list) -> None:
    """One scan group: header rows (scan/column attributes) then result rows."""
    headers: dict[str, list[_Entry]] = {}
    results: list[tuple[str, list[_Entry]]] = []
    started = False
    for row in rows:
        if not row:
            continue
        name = _row_name(row)
        cells = row[1:]
        key = _HEADER_KEYS.get(name.lower())
        if key == "Scan_Name" or key == "Patient":
            started = True
        if not started:
            # Rows before the scan header: key/value pairs (some exports put the info block here).
            _meta_pairs(row, section.meta)
            continue
        if key:
            headers.setdefault(key, _header_entries(cells))
            continue
        entries = _result_entries(cells)
        if results and (not name or name == results[-1][0]):
            prev = results[-1][1]
            # A row of criteria under the row of values (domain.md §6 edge cases).
            if entries and all(not e.text and e.criterion is not None for e in entries) and all(
                e.criterion is None for e in prev
            ):
                for e, c in zip(prev, entries):
                    e.criterion = c.criterion
                if len(entries) > len(prev):
                    prev.extend(_Entry("", c.criterion) for c in entries[len(prev):])
                continue
            if not name:  # values wrapped onto an unnamed row: they continue the previous row
                prev.extend(entries)
                continue
        if not name:
            continue
        results.append((name, entries))

    scan_entries = headers.get("Scan_Name") or []
    if not scan_entries:
        raise QCInputError("piqt.err.not_piqt", file=file)
    echo_entries = headers.get("Echo_No")
    counts = [len(e) for _, e in results if e]
    if echo_entries:
        n_cols = len(echo_entries)
    elif counts:
        n_cols = max(set(counts), key=counts.count)
    else:
        n_cols = len(scan_entries)
    n_cols = max(n_cols, len(scan_entries))
    scan_of = _assign_columns(scan_entries, echo_entries, n_cols, file, section.title)
    first_col_of_scan = {s: scan_of.index(s) for s in range(len(scan_entries))}

    def per_column(name: str, entries: list[_Entry], is_result: bool) -> list[_Entry | None]:
        """Spread a row over the columns: one entry per column, or one per scan (copied to its columns)."""
        n = len(entries)
        if n == n_cols:
            return list(entries)
        if n == len(scan_entries):
            if is_result:  # a per-scan result belongs to the scan's first column
                return [entries[s] if first_col_of_scan[s] == j else None for j, s in enumerate(scan_of)]
            return [entries[s] for s in scan_of]
        if n > n_cols:
            raise QCInputError("piqt.err.layout", file=file, section=section.title or "?", n_cols=n_cols,
                               n_scans=len(scan_entries), row=name)
        if n:
            warnings.append(("piqt.warn.row_count", {"section": section.title, "row": name, "n": n, "n_cols": n_cols}))
        return list(entries) + [None] * (n_cols - n)

    fields_per_col: list[dict[str, str]] = [{} for _ in range(n_cols)]
    for key, entries in headers.items():
        for j, e in enumerate(per_column(key, entries, False)):
            if e is not None:
                fields_per_col[j][key] = e.text
    echo_index: dict[int, int] = {}
    columns: list[ScanColumn] = []
    for j in range(n_cols):
        f = fields_per_col[j]
        echo_index[scan_of[j]] = echo_index.get(scan_of[j], 0) + 1
        echo_no = parse_value(f.get("Echo_No", ""))[0]
        slice_no = parse_value(f.get("Slice_No", ""))[0]
        columns.append(ScanColumn(
            scan=scan_entries[scan_of[j]].text,
            echo=int(echo_no) if echo_no is not None else echo_index[scan_of[j]],
            te_ms=parse_value(f.get("Echo_Time", ""))[0],
            slice_no=int(slice_no) if slice_no is not None else None,
            coil=f.get("Coil_type", ""),
            scan_date=_parse_scan_datetime(f.get("Scan_Date", ""), f.get("Scan_Time", "")),
            fields=f,
        ))
    section.columns.extend(columns)
    for name, entries in results:
        for j, e in enumerate(per_column(name, entries, True)):
            if e is None:
                continue
            value, is_text = parse_value(e.text)
            section.values.append(PiqtValue(
                section=section.title, section_index=section.index, parameter=name, column=columns[j],
                value=value, value_text=_norm(e.text), criterion=e.criterion or NO_CRITERION, is_text=is_text,
            ))


def _meta_pairs(row: list[_Cell], meta: dict[str, str]) -> None:
    """Key/value pairs of an info or system row: [k1, v1, k2, v2...]; "-" means empty."""
    texts = [" / ".join(_cell_lines(c.text)) for c in row]
    for i in range(0, len(texts), 2):
        key = texts[i].rstrip(":").strip()
        if not key:
            continue
        value = texts[i + 1] if i + 1 < len(texts) else ""
        meta.setdefault(key, "" if value.strip() in ("-", "") else value)


def _has_scan_header(table: _Table) -> bool:
    return any(row and _norm(row[0].text).lower() == "scan_name" for row in table.rows)


# ================================================================ report


SYSTEM_KEYS = ("Field Strength", "Gradient Chain", "Gradient Amplifier", "Gradient Coil", "Gradient Switchbox",
               "RF Chain", "RF Amplifier", "Magnet", "Tested by", "Order", "List Type", "Applied Verification File(s)")


def parse_report(name: str, data: bytes) -> PiqtReport:
    """Parse one PIQT HTML report (bytes). Raises `QCInputError` for a file that is not a PIQT report
    (including a DICOM file), a truncated report, a report without values or a layout it cannot map."""
    if len(data) == 0:
        raise QCInputError("err.empty_file", file=name)
    check_report_size(name, len(data))
    if data[128:132] == b"DICM" or data[:4] == b"DICM":
        raise QCInputError("piqt.err.dicom", file=name)
    text, encoding = decode_report(data)
    parser = _ReportHTML()
    try:
        parser.feed(text)
        parser.close()
    except Exception:  # html.parser is lenient; anything raised here means the bytes are not HTML
        raise QCInputError("piqt.err.not_piqt", file=name) from None
    tables = [ev[1] for ev in parser.events if ev[0] == "table"]
    if not any(_has_scan_header(tb) for tb in tables):
        raise QCInputError("piqt.err.not_piqt", file=name)
    if not parser.closed or parser.stack:
        raise QCInputError("piqt.err.truncated", file=name)

    warnings: list[tuple[str, dict[str, Any]]] = []
    sections: list[PiqtSection] = []
    title: str | None = None
    current: PiqtSection | None = None
    for kind, ev in parser.events:
        if kind == "heading":
            title, current = ev, None
            continue
        if current is None:
            known = next((k for k in KNOWN_SECTIONS if title and k.lower() == title.lower()), None)
            current = PiqtSection(title=known or (title or ""), index=len(sections), known=known is not None)
            sections.append(current)
        if _has_scan_header(ev):
            _parse_results(ev, current, name, warnings)
        else:
            for row in ev.rows:
                _meta_pairs(row, current.meta)
    sections = [s for s in sections if s.values]  # headings/tables without results (page titles...) carry no data
    for i, s in enumerate(sections):
        s.index = i
        for v in s.values:
            v.section_index = i
    if not sections:
        raise QCInputError("piqt.err.no_values", file=name)

    system: dict[str, str] = {}
    for s in sections:
        for key in SYSTEM_KEYS:
            if key in s.meta:
                if key not in system:
                    system[key] = s.meta[key]
                elif s.meta[key] != system[key] and key not in ("Tested by", "Order"):
                    warnings.append(("piqt.warn.system_differs", {"field": key, "a": system[key], "b": s.meta[key]}))
    for s in sections:
        if not s.known:
            if s.title:
                warnings.append(("piqt.warn.unknown_section", {"section": s.title, "n": len(s.values)}))
            else:
                s.title = "?"
                for v in s.values:
                    v.section = s.title
                warnings.append(("piqt.warn.untitled_section", {"section": s.title, "n": len(s.values)}))

    report_date_text = next((s.meta["Date"] for s in sections if s.meta.get("Date")), "")
    report_date = _parse_report_date(report_date_text) if report_date_text else None
    scan_dates = sorted({c.scan_date for s in sections for c in s.columns if c.scan_date is not None})
    if scan_dates:
        acquired = scan_dates[0]
        days = sorted({d.date() for d in scan_dates})
        if len(days) > 1:
            warnings.append(("piqt.warn.several_days", {"dates": ", ".join(d.isoformat() for d in days)}))
    elif report_date is not None:
        acquired = report_date
        warnings.append(("piqt.warn.no_scan_date", {"date": report_date.isoformat(sep=" ")}))
    else:
        acquired = None
        warnings.append(("piqt.warn.no_date", {}))

    report = PiqtReport(sections=sections, system=system, report_date=report_date,
                        report_date_text=report_date_text, acquired_at=acquired, encoding=encoding, warnings=warnings)
    _name_items(report)
    return report


def _name_items(report: PiqtReport) -> None:
    """Item names "{scan} / echo {n}", unique per parameter: " / slice {s}" is added when one parameter is
    reported for the same scan and echo on several slices; a remaining duplicate gets " #k" and a warning."""
    slices: dict[tuple[str, str, int], set] = {}
    for v in report.values:
        slices.setdefault((v.parameter, v.column.scan, v.column.echo), set()).add(v.column.slice_no)
    seen: dict[tuple[str, str], int] = {}
    for v in report.values:
        c = v.column
        several = len(slices[(v.parameter, c.scan, c.echo)]) > 1
        base = f"{c.scan} / slice {c.slice_no} / echo {c.echo}" if several else f"{c.scan} / echo {c.echo}"
        k = seen.get((v.parameter, base), 0) + 1
        seen[(v.parameter, base)] = k
        v.item = base if k == 1 else f"{base} #{k}"
        if k > 1 and not v.is_text:
            report.warnings.append(("piqt.warn.duplicate", {"parameter": v.parameter, "item": base, "new_item": v.item}))


# ================================================================ units and metrics


def unit_of(parameter: str) -> str:
    """Unit of a report parameter when known (domain.md §6, Appendix A); "" for ratios and unknowns."""
    p = parameter.strip().rstrip(".").lower()
    if p.startswith("diff_lin") or p.startswith("rad "):
        return "mm"
    return _UNITS.get(p, "")


_UNITS = {
    "nema s/n (b)": "", "nema_int_unif": "%", "art_level": "%", "nema_perc_dif": "%",
    "nema_phant_rot": "°", "nema_angle": "°", "nema_pos_shift": "mm", "nema_fwhm": "mm", "nema_fwtm": "mm",
    "nema_slice_int": "mm", "hor_pxl_size": "mm", "ver_pxl_size": "mm", "nema_hor_pxl_size": "mm",
    "nema_ver_pxl_size": "mm", "t/c-20": "%", "c-20/c-10": "%", "c-10/c+10": "%", "c+10/c+20": "%", "c+20/max": "%",
}

# The parameters known from real reports (domain.md Appendix A). Limits come from each report's own criterion
# (Measurement.limits), so no default tolerance here.
METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("Nema S/N (B)", "", "Rapport signal/bruit NEMA (bruit de fond)", "NEMA signal-to-noise ratio (background noise)", better="higher"),
    MetricSpec("Nema_Int_Unif", "%", "NON-uniformité intégrale NEMA (plus bas = meilleur)", "NEMA integral NON-uniformity (lower is better)", better="lower"),
    MetricSpec("Art_Level", "%", "Niveau d'artéfact (fantômes)", "Artefact (ghost) level", better="lower"),
    *(MetricSpec(f"diff_lin_({p})", "mm", f"Linéarité différentielle, disques {p}", f"Differential linearity, discs {p}")
      for p in ("2-44", "3-43", "4-42", "7-39", "11-35", "13-33", "19-27", "20-26")),
    MetricSpec("nema_perc_dif.", "%", "Écart NEMA des distances (%)", "NEMA distance deviation (%)"),
    MetricSpec("Nema_Phant_Rot.", "°", "Rotation du fantôme", "Phantom rotation"),
    MetricSpec("Nema_Angle", "°", "Angle de la rampe", "Ramp angle"),
    MetricSpec("Nema_Pos_shift", "mm", "Décalage de position de coupe", "Slice position shift"),
    MetricSpec("Nema_FWHM", "mm", "Épaisseur de coupe (LMH)", "Slice thickness (FWHM)"),
    MetricSpec("Nema_FWTM", "mm", "Largeur du profil à 10 % (LTM)", "Slice profile width at 10 % (FWTM)"),
    MetricSpec("Nema_Slice_int.", "mm", "Intégrale du profil de coupe", "Slice profile integral"),
    MetricSpec("Hor_pxl_size", "mm", "Taille de pixel effective horizontale", "Effective pixel size, horizontal", better="lower"),
    MetricSpec("Ver_pxl_size", "mm", "Taille de pixel effective verticale", "Effective pixel size, vertical", better="lower"),
    MetricSpec("n_values", "", "Nombre de valeurs du rapport", "Number of values in the report", trend=False),
    # Counted by the pipeline from the judged rows: outside their limits or not measured (the report's own count).
    MetricSpec("n_failing", "", "Valeurs hors critère du rapport", "Values outside the report's criterion", better="lower",
               counts_items=(None, (FAIL, NOT_MEASURED))),
    MetricSpec("n_sections", "", "Nombre de sections du rapport", "Number of report sections", trend=False),
)


# ================================================================ analyser


def check_report_size(name: str, size: int) -> None:
    """Refuse a file too large to be a PIQT report, before any decoding or parsing."""
    if size > MAX_REPORT_BYTES:
        raise QCInputError("piqt.err.too_large", file=name, mb=f"{size / 1024**2:.0f}", limit_mb=MAX_REPORT_BYTES // 1024**2)


def _one_report(inputs: list[tuple[str, bytes]]) -> tuple[str, bytes]:
    for name, data in inputs:
        if not name.lower().endswith(".zip"):
            check_report_size(name, len(data))
    files = expand_inputs(inputs)
    if len(files) != 1:
        names = ", ".join(n for n, _ in files[:5]) + (", …" if len(files) > 5 else "")
        raise QCInputError("piqt.err.several_files", n=len(files), files=names)
    return files[0]


def _describe(v: PiqtValue) -> str:
    c = v.column
    parts = [v.section, c.scan, f"echo {c.echo}"]
    if c.te_ms is not None:
        parts.append(f"TE {c.te_ms:g} ms")
    if c.slice_no is not None:
        parts.append(f"slice {c.slice_no}")
    if c.coil:
        parts.append(f"coil {c.coil}")
    return ", ".join(parts)


def item_row(v: PiqtValue) -> dict[str, Any]:
    """One row of `AnalysisResult.items` (what the page table and the CLI show for a value). A numeric row names
    its parameter and carries its criterion's limits (`JUDGED_BY`): the pipeline sets its "status"; a text row
    (RAMP…) has no verdict."""
    c = v.column
    row = {
        "section": v.section,
        "parameter": v.parameter,
        "item": v.item,
        "scan": c.scan,
        "echo": c.echo,
        "te_ms": c.te_ms,
        "slice": c.slice_no,
        "coil": c.coil,
        "value": v.value,
        "value_text": v.value_text,
        "unit": unit_of(v.parameter),
        "criterion": v.criterion.text,
        "lower": v.criterion.lower,
        "upper": v.criterion.upper,
    }
    if not v.is_text:
        limits = v.criterion.limits()
        row[JUDGED_BY] = {"metric": v.parameter, "value": "value", "limits": list(limits) if limits else None}
    return row


def analyse(inputs: list[tuple[str, bytes]], ctx: AnalysisContext) -> AnalysisResult:
    """Analyse exactly one PIQT report: one Measurement per measured value, limited by its own criterion."""
    name, data = _one_report(inputs)
    report = parse_report(name, data)
    lang = ctx.lang

    measurements: list[Measurement] = []
    items: list[dict[str, Any]] = []
    missing: list[str] = []
    for v in report.values:
        items.append(item_row(v))
        if v.is_text:
            continue
        measurements.append(Measurement(
            name=v.parameter, value=v.value, unit=unit_of(v.parameter), item=v.item,
            description=_describe(v), limits=v.criterion.limits(), reference=v.criterion.text,
        ))
        if v.value is None:
            missing.append(f"{v.parameter} [{v.item}]")
    measurements += [
        Measurement("n_values", float(len(measurements)), "", description="measured values in the report"),
        Measurement("n_sections", float(len(report.sections)), "", description="section blocks with results"),
    ]

    warnings = list(report.warnings)
    if missing:
        which = ", ".join(missing[:6]) + (", …" if len(missing) > 6 else "")
        warnings.append(("piqt.warn.missing", {"n": len(missing), "which": which}))
    for v in report.values:
        if not v.criterion.recognised:
            warnings.append(("piqt.warn.unknown_criterion", {"parameter": v.parameter, "item": v.item, "criterion": v.criterion.text}))

    scans = []
    for s in report.sections:
        for c in s.columns:
            scans.append({"section": s.title, "scan": c.scan, "echo": c.echo, "te_ms": c.te_ms, "slice": c.slice_no,
                          "coil": c.coil, "scan_date": c.scan_date.isoformat(sep=" ") if c.scan_date else None,
                          "fields": dict(c.fields)})
    return AnalysisResult(
        test=TEST_KEY,
        measurements=measurements,
        items=items,
        warnings=[t(k, lang, **p) for k, p in warnings],
        acquired_at=report.acquired_at,
        station_name=report.system.get("Magnet", ""),
        files=[InputFile(filename=name, sha256=sha256_of(data), size=len(data), data=data)],
        extra={
            "system": dict(report.system),
            "report_date": report.report_date.isoformat(sep=" ") if report.report_date else report.report_date_text or None,
            "sections": [{"title": s.title, "known": s.known, "meta": dict(s.meta), "n_values": len(s.values)}
                         for s in report.sections],
            "scans": scans,
            "encoding": report.encoding,
        },
        params={"file": name},
    )



# The method's version: bump it when the method changes (tests/test_versions.py) and say why in docs/changelog.md.
VERSION = "1.1"

SPEC = TestSpec(
    version=VERSION,
    open_metrics=True,  # the report names its parameters (another software version may add some): its criterion judges them
    key=TEST_KEY,
    name_fr="PIQT",
    name_en="PIQT",
    frequency="weekly",
    kind="report",
    metrics=METRICS,
    analyse=analyse,
    page="pages/piqt.py",
    description_fr="Import du rapport HTML du PIQT Philips (contrôle périodique de la qualité image IRM) : "
    "chaque valeur est gardée avec son propre critère « C » du rapport (rapport S/B, non-uniformité, "
    "linéarité, profil de coupe, résolution) et suivie par séquence et écho.",
    description_en="Import of the Philips PIQT HTML report (periodic MR image quality test): every value is kept "
    "with the report's own \"C\" criterion (S/N, non-uniformity, linearity, slice profile, resolution) and "
    "trended per scan and echo.",
    accepts=".htm,.html",
)

# The demo input ("module:function", see qc.registry) and how a received DICOM object is recognised as this test's.
DEMO_INPUT = "qc.demo_inputs:piqt_demo"
ROUTING = None  # a PIQT report is a file the scanner writes, never a received DICOM object
# The demo database: the weekly report of every Wednesday morning over the latest weeks.
DEMO = DemoSessions(make="qc.demo_inputs:piqt_session", gen="piqt", span="weeks", weekday=2, time="07:30", date_arg="day", keep_latest=2)


# ================================================================ plotting helpers (page only)


def section_table(result: AnalysisResult, section: str) -> pd.DataFrame:
    """The values of one section (all its blocks) for the page: one row per value with its criterion and status."""
    import pandas as pd  # the page's tables only: importing the analyser (the menus) stays cheap

    cols = ["parameter", "scan", "echo", "te_ms", "slice", "coil", "value", "unit", "criterion", "lower", "upper", "status"]
    rows = [{**r, "status": r.get("status") or "none"} for r in result.items if r["section"] == section]  # a text row: no verdict
    df = pd.DataFrame(rows, columns=cols + ["value_text"])
    if not df.empty:
        # Text results (RAMP, MODULUS) show their text in the value column.
        df["value"] = [r["value"] if r["value"] is not None or not r["value_text"] else r["value_text"] for r in rows]
    return df[cols]


def sections(result: AnalysisResult) -> list[str]:
    """Section titles in report order (a repeated section once)."""
    out: list[str] = []
    for r in result.items:
        if r["section"] not in out:
            out.append(r["section"])
    return out


def charts(result: AnalysisResult, lang: str = "fr") -> list[tuple[str, Any]]:
    """One chart per section: each numeric value (point coloured by its judged status) with its criterion as ticks,
    one small panel per parameter (independent y scales, since units differ)."""
    import altair as alt
    import pandas as pd

    out = []
    status_names = {s: t(f"piqt.status.{s}", lang) for s in ("pass", "warning", "fail", "none")}
    for sec in sections(result):
        rows = [
            {"parameter": r["parameter"], "column": r["item"], "value": r["value"], "lower": r["lower"],
             "upper": r["upper"], "status": status_names.get(r.get("status") or "none", status_names["none"]), "criterion": r["criterion"]}
            for r in result.items if r["section"] == sec and r["value"] is not None
        ]
        if not rows:
            continue
        df = pd.DataFrame(rows)
        x = alt.X("column:N", title=t("piqt.chart.column", lang), sort=None)
        base = alt.Chart().encode(x=x)
        points = base.mark_point(filled=True, size=70).encode(
            y=alt.Y("value:Q", title=t("piqt.chart.value", lang), scale=alt.Scale(zero=False)),
            color=alt.Color("status:N", title=t("piqt.chart.status", lang),
                            scale=alt.Scale(domain=list(status_names.values()), range=["#2e7d32", "#ef6c00", "#c62828", "#757575"])),
            tooltip=["parameter", "column", "value", "criterion", "status"],
        )
        lo = base.mark_tick(color="#c62828", thickness=2).encode(y="lower:Q")
        hi = base.mark_tick(color="#c62828", thickness=2).encode(y="upper:Q")
        chart = (
            alt.layer(points, lo, hi, data=df)
            .properties(width=220, height=120)
            .facet(facet=alt.Facet("parameter:N", title=None, sort=None), columns=3)
            .resolve_scale(y="independent")
        )
        out.append((t("piqt.chart.section", lang, section=sec), chart))
    return out
