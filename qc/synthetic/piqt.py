"""Synthetic Philips PIQT HTML reports for tests, benchmarks and the demo database.

Writes reports with the structure of a real MR-Linac PIQT export (domain.md Appendix A: section titles in a bold
Arial ``<span>``, an info table, a system table, then a results table of scan header rows and result rows with
each value followed by its "C" criterion cell), with chosen values and criteria, some of them failing. Every
value written is returned as truth (`SyntheticPiqt.values`) so a parser can be checked exactly.

Export quirks can be switched on to exercise a parser: decimal commas, criteria on the row under the values or
in the value's own cell, values wrapped over lines, colspans, ``-``/``NaN`` missing values, an unknown section,
and the utf-8 / latin-1 / utf-16 encodings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from html import escape
from typing import Any, Iterable, Sequence

import numpy as np

MAGNET = "WA_MRL_15T"
SYSTEM = (
    ("Field Strength", "WA15", "Gradient Chain", "-"),
    ("Gradient Coil", "WideApertureMRL", "RF Chain", "-"),
    ("Magnet", MAGNET, "Tested by", "Physique médicale"),
)
LIST_TYPE = "MRL with SPEC"
VERIFICATION_FILE = "C: piqt_mrl_spec.cust"

TD = ' style="font-family:Arial;font-size:8pt" nowrap="nowrap"'
TDN = ' style="font-family:Arial;font-size:8pt;font-weight:bold" nowrap="nowrap"'
SPAN = ' style="font-family:Arial;font-size:12pt;font-weight:bold"'
TABLE = ' border="1" cellspacing="0" cellpadding="2" style="border-collapse:collapse;margin-bottom:6px"'


@dataclass(frozen=True)
class Scan:
    """A PIQT scan: name, sequence, echoes as (echo number, TE ms), and header values."""

    name: str
    seq: str
    echoes: tuple[tuple[int, float], ...]
    minute: int  # minutes after the session start
    bw: str
    freq: int


SCANS = {
    "QA1H": Scan("QA1H:MS,SE", "SE", ((1, 30.0), (2, 100.0)), 0, "108.5", 63_897_412),
    "QA2H": Scan("QA2H:MS,FE", "FFE", ((1, 15.0),), 6, "217.0", 63_897_405),
    "QA3B": Scan("QA3B:2D,SE", "SE", ((1, 50.0), (2, 100.0), (3, 150.0)), 11, "108.5", 63_897_398),
}


@dataclass(frozen=True)
class Param:
    """A result row: per column (scan key, echo) the nominal value, its SD, and the criterion.

    `limits` per column is ("lower", x), ("upper", x), ("range", a, b) or None (a bare "C").
    `text` gives a text result (RAMP...) instead of a number.
    """

    name: str
    decimals: int
    values: dict[tuple[str, int], tuple[float, float]]
    limits: dict[tuple[str, int], tuple | None]
    text: str | None = None


def _same(cols: Iterable[tuple[str, int]], v: Any) -> dict:
    return {c: v for c in cols}


FFU_HEAD = [("QA1H", 1), ("QA1H", 2), ("QA2H", 1)]
FFU_BODY = [("QA3B", 1), ("QA3B", 2), ("QA3B", 3)]
LIN = [("QA1H", 1), ("QA2H", 1)]
SP = [("QA1H", 1), ("QA1H", 2), ("QA2H", 1)]
RES = [("QA1H", 1), ("QA2H", 1)]
DISC_PAIRS = ("2-44", "3-43", "4-42", "7-39", "11-35", "13-33", "19-27", "20-26")

# (title, slice number, columns, parameters): values of the order seen in a real MR-Linac report (domain.md App. A).
SECTIONS: tuple[tuple[str, int, list, list[Param]], ...] = (
    ("Flood Field Uniformity", 1, FFU_HEAD, [
        Param("Nema S/N (B)", 1, {("QA1H", 1): (71.8, 1.2), ("QA1H", 2): (55.0, 1.0), ("QA2H", 1): (62.3, 1.1)},
              {("QA1H", 1): ("lower", 66), ("QA1H", 2): ("lower", 50), ("QA2H", 1): ("lower", 56)}),
        Param("Nema_Int_Unif", 2, {("QA1H", 1): (24.6, 0.8), ("QA1H", 2): (26.1, 0.8), ("QA2H", 1): (29.4, 0.9)},
              {("QA1H", 1): ("upper", 42), ("QA1H", 2): ("upper", 42), ("QA2H", 1): ("upper", 45)}),
        Param("Art_Level", 3, _same(FFU_HEAD, (0.21, 0.04)), _same(FFU_HEAD, ("upper", 1.0))),
    ]),
    ("Flood Field Uniformity", 1, FFU_BODY, [
        Param("Nema S/N (B)", 1, {("QA3B", 1): (51.7, 1.0), ("QA3B", 2): (45.2, 0.9), ("QA3B", 3): (40.1, 0.9)},
              {("QA3B", 1): ("lower", 45), ("QA3B", 2): ("lower", 39), ("QA3B", 3): ("lower", 33)}),
        Param("Nema_Int_Unif", 2, _same(FFU_BODY, (31.5, 1.0)), _same(FFU_BODY, ("upper", 45))),
        Param("Art_Level", 3, _same(FFU_BODY, (0.32, 0.05)), _same(FFU_BODY, ("upper", 1.0))),
    ]),
    ("Spatial Linearity", 2, LIN, [
        *(Param(f"diff_lin_({p})", 2, _same(LIN, (0.0, 0.05)), _same(LIN, None)) for p in DISC_PAIRS),
        Param("nema_perc_dif.", 2, _same(LIN, (0.35, 0.08)), _same(LIN, ("upper", 2.0))),
    ]),
    ("Slice Profile", 3, SP, [
        Param("Nema_Phantom", 0, {}, _same(SP, None), text="RAMP"),
        Param("Nema_Prof_Type", 0, {}, _same(SP, None), text="MODULUS"),
        Param("Nema_Phant_Rot.", 2, _same(SP, (0.25, 0.1)), _same(SP, ("range", -2.0, 2.0))),
        Param("Nema_Angle", 2, _same(SP, (11.1, 0.05)), _same(SP, None)),
        Param("Nema_Pos_shift", 2, _same(SP, (0.15, 0.08)), _same(SP, None)),
        Param("Nema_FWHM", 2, {("QA1H", 1): (4.86, 0.04), ("QA1H", 2): (4.74, 0.04), ("QA2H", 1): (4.93, 0.04)},
              {("QA1H", 1): ("range", 4.65, 5.15), ("QA1H", 2): ("range", 4.4, 5.2), ("QA2H", 1): ("range", 4.6, 5.3)}),
        Param("Nema_FWTM", 2, _same(SP, (6.35, 0.08)), _same(SP, ("range", 5.5, 7.5))),
        Param("Nema_Slice_int.", 2, {("QA1H", 1): (4.85, 0.04), ("QA1H", 2): (4.78, 0.04), ("QA2H", 1): (4.9, 0.04)},
              {("QA1H", 1): ("range", 4.6, 5.1), ("QA1H", 2): ("range", 4.5, 5.1), ("QA2H", 1): ("range", 4.6, 5.2)}),
    ]),
    ("Spatial Resolution", 4, RES, [
        Param("Hor_pxl_size", 2, {("QA1H", 1): (1.22, 0.02), ("QA2H", 1): (1.31, 0.02)}, _same(RES, ("upper", 1.5))),
        Param("Ver_pxl_size", 2, {("QA1H", 1): (1.27, 0.02), ("QA2H", 1): (1.36, 0.02)}, _same(RES, ("upper", 1.5))),
    ]),
)

# A section a parser does not know (to check it is kept and reported).
UNKNOWN_SECTION = ("Signal Drift", 5, [("QA2H", 1)], [
    Param("Drift_Perc", 2, {("QA2H", 1): (0.42, 0.05)}, {("QA2H", 1): ("upper", 2.0)}),
])

# By default one value sits on a missing " - " (a value the console did not compute, with a bare criterion).
DEFAULT_MISSING = {("Nema_Pos_shift", "QA1H:MS,SE", 2): "-"}


@dataclass
class SyntheticPiqt:
    """A generated report and the truth of every value it holds (one dict per value, in report order)."""

    html: bytes
    values: list[dict[str, Any]] = field(default_factory=list)
    scan_datetime: dt.datetime | None = None


def _fmt(x: float, decimals: int, comma: bool) -> str:
    s = f"{x:.{decimals}f}"
    if s.startswith("-") and float(s) == 0:
        s = s[1:]
    return s.replace(".", ",") if comma else s


def _criterion_text(lim: tuple | None, comma: bool) -> str:
    def n(x: float) -> str:
        s = f"{x:g}"
        return s.replace(".", ",") if comma else s

    if lim is None:
        return "C"
    if lim[0] == "lower":
        return f"C &gt; {n(lim[1])}"
    if lim[0] == "upper":
        return f"C &lt; {n(lim[1])}"
    return f"C{n(lim[1])} - {n(lim[2])}"


def _bounds(lim: tuple | None) -> tuple[float | None, float | None]:
    if lim is None:
        return None, None
    if lim[0] == "lower":
        return float(lim[1]), None
    if lim[0] == "upper":
        return None, float(lim[1])
    return float(lim[1]), float(lim[2])


def _status(value: float | None, lim: tuple | None) -> str:
    lo, hi = _bounds(lim)
    if lo is None and hi is None:
        return "none"
    if value is None:
        return "fail"
    return "fail" if (lo is not None and value < lo) or (hi is not None and value > hi) else "pass"


def _failing_value(lim: tuple, decimals: int, rng: np.random.Generator) -> float:
    """A value clearly outside the criterion (by 3–10 % of the limit or 20–50 % of the range)."""
    lo, hi = _bounds(lim)
    if lo is not None and hi is not None:
        return round(hi + (hi - lo) * rng.uniform(0.2, 0.5), decimals)
    if lo is not None:
        return round(lo - max(abs(lo) * rng.uniform(0.03, 0.10), 10 ** -decimals * 2), decimals)
    return round(hi + max(abs(hi) * rng.uniform(0.03, 0.10), 10 ** -decimals * 2), decimals)  # type: ignore[operator]


def _wrap(text: str) -> str:
    """A value written over several source lines, as some exports do (newline + indent, number split)."""
    if len(text) >= 4 and all(ch in "0123456789.,-+" for ch in text):
        k = len(text) // 2
        text = f"{text[:k]}\n        {text[k:]}"
    return f"\n        {text}\n      "


def synthetic_report(
    scan_date: dt.date | dt.datetime = dt.date(2026, 11, 16),
    seed: int = 0,
    *,
    failing: Sequence[str | tuple[str, str, int]] = (),
    drift: dict[str, float] | None = None,
    missing: dict[tuple[str, str, int], str] | None = None,
    decimal_comma: bool = False,
    criteria_layout: str = "cell",
    wrap_values: bool = False,
    colspan: bool = False,
    unknown_section: bool = False,
    encoding: str = "utf-8",
) -> SyntheticPiqt:
    """Generate one PIQT report and its truth.

    `failing`: parameter names (the first column that has a limit fails) or (parameter, scan name, echo).
    `drift`: value added to the nominal of a parameter (all its columns), for weekly series.
    `missing`: (parameter, scan name, echo) → token ("-" or "NaN") written instead of the value.
    `criteria_layout`: "cell" (criterion in the next cell), "row" (criteria on the row under the values) or
    "br" (value and criterion in one cell separated by a line break).
    """
    if criteria_layout not in ("cell", "row", "br"):
        raise ValueError("criteria_layout must be 'cell', 'row' or 'br'")
    rng = np.random.default_rng(seed)
    start = scan_date if isinstance(scan_date, dt.datetime) else dt.datetime.combine(scan_date, dt.time(7, 42))
    missing = DEFAULT_MISSING if missing is None else missing
    drift = drift or {}
    fail_specs = list(failing)
    out: list[str] = []
    truth: list[dict[str, Any]] = []
    comma = decimal_comma
    enc_name = {"utf-8": "UTF-8", "latin-1": "ISO-8859-1", "utf-16": "UTF-16"}[encoding]
    out.append(f'<?xml version="1.0" encoding="{enc_name}"?>\n'
               '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
               '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
               '<html xmlns="http://www.w3.org/1999/xhtml">\n<head>\n'
               f'<meta http-equiv="Content-Type" content="text/html; charset={enc_name}" />\n'
               '<title>SPT report</title>\n</head>\n<body>\n')
    report_time = start + dt.timedelta(minutes=20)
    sections = list(SECTIONS) + ([UNKNOWN_SECTION] if unknown_section else [])
    for block, (title, slice_no, cols, params) in enumerate(sections):
        out.append(f'<p><span{SPAN}>{escape(title)}</span></p>\n')
        out.append(f"<table{TABLE}>\n")
        for k, v in (("Date", report_time.strftime("%a, %d %b %Y %H:%M:%S")), ("List Type", LIST_TYPE),
                     ("Applied Verification File(s)", VERIFICATION_FILE)):
            out.append(f"<tr><td{TDN}>{k}</td><td{TD}>{escape(v)}</td></tr>\n")
        out.append(f"</table>\n<table{TABLE}>\n")
        for k1, v1, k2, v2 in SYSTEM:
            out.append(f"<tr><td{TDN}>{k1}</td><td{TD}>{escape(v1)}</td><td{TDN}>{k2}</td><td{TD}>{escape(v2)}</td></tr>\n")
        out.append(f"</table>\n<table{TABLE}>\n")
        scan_keys = list(dict.fromkeys(c[0] for c in cols))
        n_echo = {s: sum(1 for c in cols if c[0] == s) for s in scan_keys}
        vspan = 2 if criteria_layout == "cell" else 1  # table slots of one value column

        def scan_row(name: str, values: list[str]) -> None:
            spans = [f' colspan="{n_echo[s] * vspan}"' if colspan else "" for s in scan_keys]
            cells = "".join(f"<td{TD}{sp}>{v}</td>" for sp, v in zip(spans, values))
            out.append(f"<tr><td{TDN}>{name}</td>{cells}</tr>\n")

        def col_row(name: str, values: list[str]) -> None:
            sp = f' colspan="{vspan}"' if colspan and vspan > 1 else ""
            cells = "".join(f"<td{TD}{sp}>{v}</td>" for v in values)
            out.append(f"<tr><td{TDN}>{name}</td>{cells}</tr>\n")

        def when(s: str) -> dt.datetime:
            return start + dt.timedelta(minutes=SCANS[s].minute)

        scan_row("Patient", ["PIQT"] * len(scan_keys))
        scan_row("Scan_Name", [escape(SCANS[s].name) for s in scan_keys])
        scan_row("Scan_Date", [when(s).strftime("%d-%m-%Y") for s in scan_keys])
        scan_row("Scan_Time", [when(s).strftime("%H:%M") for s in scan_keys])
        scan_row("Bw/Pixel", [_fmt(float(SCANS[s].bw), 1, comma) for s in scan_keys])
        for name, val in (("Trans_Q", "-"), ("Drive", "-"), ("RF_Factor", "1"), ("Rec_Q", "-"), ("Req_Att", "-")):
            scan_row(name, [val] * len(scan_keys))
        scan_row("Central_freq", [str(SCANS[s].freq) for s in scan_keys])
        scan_row("Coil_type", ["irf"] * len(scan_keys))
        scan_row("Actual_12nc", ["459800974061<br />459800974071"] * len(scan_keys))
        scan_row("Original_serial_nr", ["10023<br />10057"] * len(scan_keys))
        scan_row("Scan_Seq", [SCANS[s].seq for s in scan_keys])
        scan_row("Off_cen_dist", ["0" for _ in scan_keys])
        te = {s: dict(SCANS[s].echoes) for s in scan_keys}
        col_row("Image_Type", ["M"] * len(cols))
        col_row("Slice_No", [str(slice_no)] * len(cols))
        col_row("Echo_No", [str(e) for _, e in cols])
        col_row("Dyn_Scan_No", ["1"] * len(cols))
        col_row("Dist_sel", ["-"] * len(cols))
        col_row("Echo_Time", [_fmt(te[s][e], 1, comma) for s, e in cols])
        col_row("SNR_Factor", [_fmt(1.0, 2, comma)] * len(cols))
        col_row("Meas_Ok", ["OK"] * len(cols))
        col_row("Verify_Ok", ["OK"] * len(cols))

        for p in params:
            values_txt, crits_txt = [], []
            for s, e in cols:
                scan_name = SCANS[s].name
                lim = p.limits.get((s, e))
                lo, hi = _bounds(lim)
                row = {"block": block, "section": title, "parameter": p.name, "scan": scan_name, "echo": e, "te_ms": te[s][e],
                       "slice": slice_no, "coil": "irf", "criterion": _criterion_text(lim, comma).replace("&gt;", ">").replace("&lt;", "<"),
                       "lower": lo, "upper": hi}
                if p.text is not None:
                    txt, value = p.text, None
                elif (p.name, scan_name, e) in missing:
                    txt, value = missing[(p.name, scan_name, e)], None
                else:
                    mean, sd = p.values[(s, e)]
                    value = round(float(mean + drift.get(p.name, 0.0) + rng.normal(0, sd)), p.decimals)
                    spec_hit = next((f for f in fail_specs if f == (p.name, scan_name, e)
                                     or (f == p.name and lim is not None)), None)
                    if spec_hit is not None and lim is not None:
                        value = _failing_value(lim, p.decimals, rng)
                        fail_specs.remove(spec_hit)
                    value = float(_fmt(value, p.decimals, False))
                    txt = _fmt(value, p.decimals, comma)
                row["value"] = value
                row["value_text"] = txt
                row["is_text"] = p.text is not None
                row["status"] = "none" if p.text is not None else _status(value, lim)
                truth.append(row)
                values_txt.append(_wrap(txt) if wrap_values else txt)
                crits_txt.append(_criterion_text(lim, comma))
            if criteria_layout == "cell":
                cells = "".join(f"<td{TD}>{v}</td><td{TD}>{c}</td>" for v, c in zip(values_txt, crits_txt))
                out.append(f"<tr><td{TDN}>{escape(p.name)}</td>{cells}</tr>\n")
            elif criteria_layout == "br":
                cells = "".join(f"<td{TD}>{v}<br />{c}</td>" for v, c in zip(values_txt, crits_txt))
                out.append(f"<tr><td{TDN}>{escape(p.name)}</td>{cells}</tr>\n")
            else:
                cells = "".join(f"<td{TD}>{v}</td>" for v in values_txt)
                out.append(f"<tr><td{TDN}>{escape(p.name)}</td>{cells}</tr>\n")
                cells = "".join(f"<td{TD}>{c}</td>" for c in crits_txt)
                out.append(f"<tr><td{TDN}></td>{cells}</tr>\n")
        out.append("</table>\n<br />\n")
    out.append("</body>\n</html>\n")
    codec = {"utf-8": "utf-8", "latin-1": "latin-1", "utf-16": "utf-16"}[encoding]
    return SyntheticPiqt(html="".join(out).encode(codec), values=truth, scan_datetime=start)


def demo_report(scan_date: dt.date | dt.datetime = dt.date(2026, 11, 16), seed: int = 0,
                failing: Sequence[str | tuple[str, str, int]] = ("Nema_FWTM",), **options: Any) -> bytes:
    """One realistic report as bytes; by default one value (a slice FWTM) is outside its criterion."""
    return synthetic_report(scan_date, seed, failing=failing, **options).html


def weekly_reports(first_date: dt.date = dt.date(2026, 6, 1), n_weeks: int = 26, seed: int = 0,
                   ) -> list[tuple[str, bytes]]:
    """A series of weekly reports for the demo database: a slow S/N decline (coil ageing), small noise, and
    a failing value about one week in eight (a slice width or a non-uniformity out of its criterion)."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n_weeks):
        day = first_date + dt.timedelta(weeks=k)
        failing: tuple[str, ...] = ()
        if rng.random() < 0.125:
            failing = (str(rng.choice(["Nema_FWHM", "Nema_Int_Unif", "Nema S/N (B)"])),)
        drift = {"Nema S/N (B)": -0.08 * k}
        html = synthetic_report(dt.datetime.combine(day, dt.time(7, 30 + int(rng.integers(0, 20)))), seed + 1000 + k,
                                failing=failing, drift=drift).html
        out.append((f"PIQT_{day:%Y%m%d}.htm", html))
    return out
