"""PIQT report import: every value read back exactly with its criterion, export quirks, refusals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from qc.errors import QCInputError
from qc.demo_inputs import piqt_demo
from qc.mr.piqt import SPEC, analyse, charts, parse_criterion, parse_value, section_table
from qc.pipeline import judge_result_items
from qc.registry import AnalysisContext
from qc.synthetic.piqt import synthetic_report, weekly_reports
from qc.tolerances import NOT_MEASURED, item_status, judge_measurements, judge_value

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CTX = AnalysisContext(lang="fr")


def _judged(result):
    """The result with its rows judged by the pipeline's rule (`judge_result_items`), without a tolerance table: by
    each value's own criterion, as the report judges it."""
    judge_result_items(SPEC, result, lambda name: None)
    return result


def _run(html: bytes, name: str = "PIQT.htm", lang: str = "fr"):
    return _judged(analyse([(name, html)], AnalysisContext(lang=lang)))


def _assert_round_trip(report, result) -> None:
    """Every generated value (numbers, texts, missing) is in `items` once, in order, with the same fields."""
    assert len(result.items) == len(report.values)
    for got, want in zip(result.items, report.values):
        for key in ("section", "parameter", "scan", "echo", "te_ms", "slice", "coil", "criterion", "lower", "upper"):
            assert got[key] == want[key], (key, got, want)
        assert item_status(got) == want["status"], (got, want)  # the report's verdict (a missing value: "Non mesuré", failing)
        assert got["value"] == want["value"], (got, want)  # exact: the parser reads the printed decimals
        if want["is_text"]:
            assert got["value_text"] == want["value_text"]
    numeric = [w for w in report.values if not w["is_text"]]
    assert result.metrics["n_values"] == len(numeric)
    assert result.metrics["n_failing"] == sum(w["status"] == "fail" for w in report.values)
    assert result.metrics["n_sections"] == len({w["block"] for w in report.values})


# ---------------------------------------------------------------- criteria and values


@pytest.mark.parametrize(
    "text, lower, upper",
    [
        ("C > 66", 66.0, None),
        ("C < 42", None, 42.0),
        ("C4.65 - 5.15", 4.65, 5.15),
        ("C4,65 - 5,15", 4.65, 5.15),
        ("C-2 - 2", -2.0, 2.0),
        ("C -0.5 - -0.1", -0.5, -0.1),
        ("C >= 1e2", 100.0, None),
        ("C", None, None),
    ],
)
def test_criterion_forms(text, lower, upper):
    c = parse_criterion(text)
    assert c is not None and c.recognised
    assert (c.lower, c.upper) == (lower, upper)
    assert c.text == text


def test_criterion_judging_is_inclusive_and_missing_fails():
    """A criterion is limits; the pipeline's one rule (`judge_value`) judges them: inclusive, a missing value fails."""
    c = parse_criterion("C > 66")
    assert [judge_value(v, c.limits()) for v in (66.0, 65.99, None)] == ["pass", "fail", "fail"]
    assert c.limits() == (66.0, 66.0, None, None)  # no warning band: outside the criterion = fail
    r = parse_criterion("C4.65 - 5.15")
    assert [judge_value(v, r.limits()) for v in (4.64, 4.65, 5.15, 5.16)] == ["fail", "pass", "pass", "fail"]
    assert parse_criterion("C").limits() is None and judge_value(None, parse_criterion("C").limits()) == "none"
    assert parse_criterion("C = 3").recognised is False
    assert parse_criterion("Coil") is None and parse_criterion("71.8") is None


@pytest.mark.parametrize(
    "text, value, is_text",
    [("71.8", 71.8, False), ("71,8", 71.8, False), ("-0,03", -0.03, False), (" - ", None, False),
     ("NaN", None, False), ("", None, False), ("RAMP", None, True), ("12.5 %", 12.5, False)],
)
def test_value_forms(text, value, is_text):
    assert parse_value(text) == (value, is_text)


# ---------------------------------------------------------------- round trip


def test_every_value_read_back_exactly():
    rep = synthetic_report(dt.date(2026, 3, 2), seed=3)
    res = _run(rep.html)
    _assert_round_trip(rep, res)
    assert res.metrics["n_failing"] == 0
    assert res.metrics["n_sections"] == 5
    # Session identity comes from the report, not the upload.
    assert res.acquired_at == dt.datetime(2026, 3, 2, 7, 42)
    assert res.station_name == "WA_MRL_15T"
    assert res.extra["system"]["Field Strength"] == "WA15"
    assert res.extra["system"]["Gradient Coil"] == "WideApertureMRL"
    assert res.extra["system"]["Tested by"] == "Physique médicale"
    assert res.extra["report_date"] == "2026-03-02 08:02:00"
    # Measurements: name = parameter, item = scan / echo, limits and reference = the report's criterion.
    m = res.measurement("Nema S/N (B)", "QA1H:MS,SE / echo 2")
    want = next(w for w in rep.values if w["parameter"] == "Nema S/N (B)" and w["scan"] == "QA1H:MS,SE" and w["echo"] == 2)
    assert m.value == want["value"] and m.limits == (50.0, 50.0, None, None) and m.reference == "C > 50"
    fwhm = res.measurement("Nema_FWHM", "QA1H:MS,SE / echo 1")
    assert fwhm.limits == (4.65, 4.65, 5.15, 5.15) and fwhm.unit == "mm" and fwhm.reference == "C4.65 - 5.15"
    assert res.measurement("Nema_Int_Unif", "QA3B:2D,SE / echo 3").unit == "%"
    # Bare "C": no limits; the missing " - " value is a Measurement with value None and status none.
    pos = res.measurement("Nema_Pos_shift", "QA1H:MS,SE / echo 2")
    assert pos.value is None and pos.limits is None
    assert any("Nema_Pos_shift" in w for w in res.warnings)
    # The one file, with its hash, so the framework recognises the same report uploaded twice.
    assert len(res.files) == 1 and res.files[0].size == len(rep.html)
    again = _run(rep.html, name="copie.htm")
    assert again.files[0].sha256 == res.files[0].sha256
    assert _run(synthetic_report(dt.date(2026, 3, 9), seed=4).html).files[0].sha256 != res.files[0].sha256


def test_failing_value_flagged_and_framework_agrees():
    rep = synthetic_report(seed=5, failing=("Nema S/N (B)", ("Nema_FWHM", "QA2H:MS,FE", 1), "Nema_Int_Unif"))
    res = _run(rep.html)
    _assert_round_trip(rep, res)
    failing = [(r["parameter"], r["item"]) for r in res.items if r.get("status") == "fail"]
    assert failing == [("Nema S/N (B)", "QA1H:MS,SE / echo 1"), ("Nema_Int_Unif", "QA1H:MS,SE / echo 1"),
                       ("Nema_FWHM", "QA2H:MS,FE / echo 1")]
    assert res.metrics["n_failing"] == 3
    snr = res.measurement("Nema S/N (B)", "QA1H:MS,SE / echo 1")
    assert snr.value < 66
    # The framework judges each measurement with its own limits: the same three fail, nothing is "warning".
    judged = judge_measurements(res.measurements, lambda name: None)
    assert sorted((j.name, j.item) for j in judged if j.status == "fail") == sorted(failing)
    assert not [j for j in judged if j.status == "warning"]


@pytest.mark.parametrize(
    "options",
    [
        {"decimal_comma": True},
        {"wrap_values": True},
        {"wrap_values": True, "criteria_layout": "br"},
        {"criteria_layout": "row"},
        {"criteria_layout": "row", "decimal_comma": True, "wrap_values": True},
        {"colspan": True},
        {"colspan": True, "criteria_layout": "row"},
        {"encoding": "latin-1"},
        {"encoding": "utf-16", "decimal_comma": True},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
def test_export_quirks_read_back_exactly(options):
    rep = synthetic_report(seed=11, failing=("Nema_FWTM",), **options)
    res = _run(rep.html)
    _assert_round_trip(rep, res)
    assert res.metrics["n_failing"] == 1
    assert res.extra["system"]["Tested by"] == "Physique médicale"  # accents survive every encoding
    assert res.warnings == [w for w in res.warnings if "Nema_Pos_shift" in w]  # only the missing-value note


def test_decimal_comma_criteria_limits():
    res = _run(synthetic_report(seed=2, decimal_comma=True).html)
    m = res.measurement("Nema_FWHM", "QA1H:MS,SE / echo 1")
    assert m.limits == (4.65, 4.65, 5.15, 5.15) and m.reference == "C4,65 - 5,15"
    assert res.measurement("Hor_pxl_size", "QA2H:MS,FE / echo 1").limits == (None, None, 1.5, 1.5)


def test_missing_values_dash_and_nan():
    missing = {("Nema S/N (B)", "QA3B:2D,SE", 2): "NaN", ("Nema_FWHM", "QA2H:MS,FE", 1): " - ",
               ("diff_lin_(7-39)", "QA1H:MS,SE", 1): "-"}
    rep = synthetic_report(seed=8, missing=missing)
    res = _run(rep.html)
    _assert_round_trip(rep, res)
    by_key = {(r["parameter"], r["item"]): r for r in res.items}
    assert by_key[("Nema S/N (B)", "QA3B:2D,SE / echo 2")]["value"] is None
    assert by_key[("Nema S/N (B)", "QA3B:2D,SE / echo 2")]["status"] == NOT_MEASURED  # has a criterion: must be looked at
    assert by_key[("Nema_FWHM", "QA2H:MS,FE / echo 1")]["status"] == NOT_MEASURED
    assert item_status(by_key[("Nema_FWHM", "QA2H:MS,FE / echo 1")]) == "fail"
    assert by_key[("diff_lin_(7-39)", "QA1H:MS,SE / echo 1")]["status"] == "none"  # bare "C"
    assert res.metrics["n_failing"] == 2
    assert res.measurement("Nema S/N (B)", "QA3B:2D,SE / echo 2").value is None
    assert any("3 valeur(s) absente(s)" in w for w in res.warnings)


def test_unknown_section_kept_with_warning():
    rep = synthetic_report(seed=9, unknown_section=True)
    res = _run(rep.html, lang="en")
    _assert_round_trip(rep, res)
    drift = [r for r in res.items if r["section"] == "Signal Drift"]
    assert len(drift) == 1 and drift[0]["parameter"] == "Drift_Perc" and drift[0]["criterion"] == "C < 2"
    assert res.measurement("Drift_Perc", "QA2H:MS,FE / echo 1").value == drift[0]["value"]
    assert any('Unknown section "Signal Drift": 1 value(s) kept' in w for w in res.warnings)
    assert res.metrics["n_sections"] == 6
    assert {"title": "Signal Drift", "known": False}.items() <= res.extra["sections"][-1].items()


# ---------------------------------------------------------------- hand-made edge cases

HEAD = '<html><body><p><span style="font-weight:bold">{title}</span></p><table>'


def _mini(rows: str, title: str = "Flood Field Uniformity", tail: str = "</table></body></html>") -> bytes:
    header = ("<tr><td>Scan_Name</td><td>QA1H:MS,SE</td><td>QA2H:MS,FE</td></tr>"
              "<tr><td>Scan_Date</td><td>05-01-2026</td><td>05-01-2026</td></tr>"
              "<tr><td>Scan_Time</td><td>08:10</td><td>08:16</td></tr>"
              "<tr><td>Echo_No</td><td>1</td><td>2</td><td>1</td></tr>"
              "<tr><td>Echo_Time</td><td>30</td><td>100</td><td>15</td></tr>")
    return (HEAD.format(title=title) + header + rows + tail).encode()


def test_missing_criterion_cell_and_per_scan_row():
    html = _mini("<tr><td>Nema S/N (B)</td><td>70.1</td><td>C &gt; 66</td><td>50.2</td><td>48.0</td><td>C &gt; 50</td></tr>"
                 "<tr><td>Scan_Check</td><td>3.5</td><td>4.5</td></tr>")
    res = _run(html)
    rows = [(r["parameter"], r["item"], r["value"], r["criterion"], r["status"]) for r in res.items]
    assert rows == [
        ("Nema S/N (B)", "QA1H:MS,SE / echo 1", 70.1, "C > 66", "pass"),
        ("Nema S/N (B)", "QA1H:MS,SE / echo 2", 50.2, "", "none"),  # criterion cell absent
        ("Nema S/N (B)", "QA2H:MS,FE / echo 1", 48.0, "C > 50", "fail"),
        ("Scan_Check", "QA1H:MS,SE / echo 1", 3.5, "", "none"),  # one value per scan: the scan's first echo
        ("Scan_Check", "QA2H:MS,FE / echo 1", 4.5, "", "none"),
    ]
    assert res.acquired_at == dt.datetime(2026, 1, 5, 8, 10)
    assert res.items[1]["te_ms"] == 100.0
    assert res.warnings == []


def test_two_scan_groups_in_one_table():
    second = ("<tr><td>Scan_Name</td><td>QA3B:2D,SE</td></tr><tr><td>Scan_Date</td><td>05-01-2026</td></tr>"
              "<tr><td>Scan_Time</td><td>07:55</td></tr><tr><td>Echo_No</td><td>1</td><td>2</td></tr>"
              "<tr><td>Nema S/N (B)</td><td>52.5</td><td>C &gt; 45</td><td>44,0</td><td>C &gt; 39</td></tr>")
    res = _run(_mini("<tr><td>Nema S/N (B)</td><td>70.1</td><td>C &gt; 66</td><td>55.5</td><td>C &gt; 50</td>"
                     "<td>60.0</td><td>C &gt; 56</td></tr>" + second))
    rows = [(r["item"], r["value"], r["lower"]) for r in res.items]
    assert rows == [("QA1H:MS,SE / echo 1", 70.1, 66.0), ("QA1H:MS,SE / echo 2", 55.5, 50.0),
                    ("QA2H:MS,FE / echo 1", 60.0, 56.0), ("QA3B:2D,SE / echo 1", 52.5, 45.0),
                    ("QA3B:2D,SE / echo 2", 44.0, 39.0)]
    assert res.acquired_at == dt.datetime(2026, 1, 5, 7, 55)  # the earliest scan of the report


def test_more_values_than_columns_refused():
    html = _mini("<tr><td>Nema S/N (B)</td>" + "<td>70</td><td>C &gt; 1</td>" * 4 + "</tr>")
    with pytest.raises(QCInputError) as e:
        _run(html)
    assert e.value.key == "piqt.err.layout"


def test_fewer_values_than_columns_warned():
    # 1 value for 3 columns of 2 scans: neither one per column nor one per scan.
    res = _run(_mini("<tr><td>Nema_Int_Unif</td><td>20.5</td><td>C &lt; 42</td></tr>"))
    assert [(r["item"], r["value"], r["upper"]) for r in res.items] == [("QA1H:MS,SE / echo 1", 20.5, 42.0)]
    assert any("Nema_Int_Unif" in w and "1 valeur(s) pour 3 colonne(s)" in w for w in res.warnings)


def test_report_date_used_when_no_scan_date():
    html = ('<html><body><span>Spatial Resolution</span><table><tr><td>Date</td><td>Fri, 22 Jun 2018 08:02:57</td></tr>'
            '</table><table><tr><td>Scan_Name</td><td>QA1H:MS,SE</td></tr>'
            '<tr><td>Hor_pxl_size</td><td>1.21</td><td>C &lt; 1.5</td></tr></table></body></html>').encode()
    res = _run(html, lang="en")
    assert res.acquired_at == dt.datetime(2018, 6, 22, 8, 2, 57)
    assert any("no Scan_Date" in w for w in res.warnings)
    assert res.items[0]["item"] == "QA1H:MS,SE / echo 1" and res.items[0]["value"] == 1.21


# ---------------------------------------------------------------- refusals


def test_truncated_report_refused():
    html = synthetic_report(seed=1).html
    assert html.endswith(b"</table>\n<br />\n</body>\n</html>\n")
    for cut in (len(html) // 3, len(html) // 2, len(html) - 40, len(html) - 22, len(html) - 16):
        with pytest.raises(QCInputError) as e:
            _run(html[:cut])
        assert e.value.key == "piqt.err.truncated", cut
        assert "Rien n'a été enregistré" in e.value.message("fr")
    # Cut after </body>: every table and the document body are complete, so the report is accepted whole.
    assert _run(html[: len(html) - 8]).metrics["n_values"] == _run(html).metrics["n_values"]


def test_non_piqt_html_refused():
    page = b"<html><head><title>Agenda</title></head><body><h1>Menu</h1><table><tr><td>Lundi</td><td>Soupe</td></tr>" \
           b"</table></body></html>"
    for name, data in (("menu.html", page), ("notes.htm", b"just some text, no html"), ("x.htm", bytes(range(256)) * 20)):
        with pytest.raises(QCInputError) as e:
            _run(data, name=name)
        assert e.value.key == "piqt.err.not_piqt"
        assert name in e.value.message("en")


def test_dicom_refused_synthetic():
    import numpy as np

    from qc.synthetic import rt_image_bytes

    data = rt_image_bytes(np.full((16, 16), 30000, dtype=np.uint16), acquired_at=dt.datetime(2026, 1, 5, 8, 0))
    with pytest.raises(QCInputError) as e:
        _run(data, name="image.dcm")
    assert e.value.key == "piqt.err.dicom"


def test_dicom_refused_real_mr_file():
    path = SHARED / "hazen" / "snr" / "Philips" / "Philips_IM-0011-0005.dcm"
    if not path.exists():
        pytest.skip(f"shared phantom data not found at {SHARED} (clone ../shared beside the repo)")
    with pytest.raises(QCInputError) as e:
        _run(path.read_bytes(), name=path.name)
    assert e.value.key == "piqt.err.dicom"
    assert "DICOM" in e.value.message("fr")


def test_exactly_one_report():
    html = synthetic_report(seed=1).html
    with pytest.raises(QCInputError) as e:
        analyse([("a.htm", html), ("b.htm", html)], CTX)
    assert e.value.key == "piqt.err.several_files" and "2 fichiers" in e.value.message("fr")
    with pytest.raises(QCInputError) as e:
        analyse([("a.htm", b"")], CTX)
    assert e.value.key == "err.empty_file"


def test_no_values_refused():
    html = (b"<html><body><span>Flood Field Uniformity</span><table><tr><td>Scan_Name</td><td>QA1H</td></tr>"
            b"</table></body></html>")
    with pytest.raises(QCInputError) as e:
        _run(html)
    assert e.value.key == "piqt.err.no_values"


# ---------------------------------------------------------------- spec, page helpers, demo series


def test_spec_and_metrics():
    assert (SPEC.key, SPEC.kind, SPEC.frequency, SPEC.page, SPEC.accepts) == ("piqt", "report", "weekly", "pages/piqt.py", ".htm,.html")
    nu = SPEC.metric("Nema_Int_Unif")
    assert nu.better == "lower" and "NON-uniformit" in nu.label_fr and "NON-uniformity" in nu.label_en
    assert SPEC.metric("Nema S/N (B)").better == "higher"
    assert all(m.tolerance is None for m in SPEC.metrics)
    res = _judged(analyse(piqt_demo(), CTX))
    assert res.metrics["n_failing"] == 1
    names = {m.name for m in SPEC.metrics}
    assert {m.name for m in res.measurements} <= names  # every parameter of a real-structure report is listed


def test_section_table_and_charts():
    res = _run(synthetic_report(seed=4, failing=("Nema_FWHM",)).html)
    df = section_table(res, "Slice Profile")
    assert list(df.columns[:3]) == ["parameter", "scan", "echo"]
    assert {"value", "criterion", "status"} <= set(df.columns)
    assert len(df) == 8 * 3
    assert (df["parameter"] == "Nema_Phantom").sum() == 3 and set(df.loc[df["parameter"] == "Nema_Phantom", "value"]) == {"RAMP"}
    assert df.loc[df["status"] == "fail", "parameter"].tolist() == ["Nema_FWHM"]
    ffu = section_table(res, "Flood Field Uniformity")
    assert len(ffu) == 18  # both blocks of the repeated section
    out = charts(res, "en")
    assert [title for title, _ in out] == [f"{s}: values and report criteria" for s in
                                           ("Flood Field Uniformity", "Spatial Linearity", "Slice Profile", "Spatial Resolution")]
    spec = out[2][1].to_dict()
    assert "facet" in spec


def test_weekly_series_keys_stable_and_dated():
    series = weekly_reports(dt.date(2026, 6, 1), n_weeks=8, seed=2)
    results = [_run(html, name=name) for name, html in series]
    assert [r.acquired_at.date() for r in results] == [dt.date(2026, 6, 1) + dt.timedelta(weeks=k) for k in range(8)]
    keys = [set(r.metrics) for r in results]
    assert all(k == keys[0] for k in keys)  # like compared with like every week
    snr = [r.metrics["Nema S/N (B)[QA1H:MS,SE / echo 1]"] for r in results]
    assert snr[-1] < snr[0] + 3  # slow decline plus noise
    assert len({r.files[0].sha256 for r in results}) == 8


def test_system_differing_between_sections_warned():
    html = synthetic_report(seed=6).html.replace(b"WA_MRL_15T</td>", b"OTHER_MAGNET</td>", 1)
    res = _run(html, lang="en")
    assert res.station_name == "OTHER_MAGNET"  # the first section's system
    assert any('Magnet: "OTHER_MAGNET" then "WA_MRL_15T"' in w for w in res.warnings)


# ---------------------------------------------------------------- judged once, in the pipeline


def test_the_analyser_measures_and_does_not_judge():
    """The analyser gives each value with its criterion as data (limits), no verdict: no row "status", no count
    of failing values (before, it set both from the report's criteria itself)."""
    res = analyse([("PIQT.htm", synthetic_report(seed=5, failing=("Nema S/N (B)",)).html)], CTX)
    assert not any("status" in r for r in res.items)
    assert "n_failing" not in res.metrics
    snr = next(r for r in res.items if r["parameter"] == "Nema S/N (B)")
    assert (snr["lower"], snr["upper"], snr["criterion"]) == (66.0, None, "C > 66")


def test_a_dated_tolerance_overrides_the_report_criterion(store, machine):
    """A physicist's stricter limit for one parameter, in the dated tolerance table, judges that parameter's values
    (items and metrics) from its date on; the other parameters keep the report's criterion; before its date the
    report's criterion judges."""
    from qc import pipeline
    from qc.records.storage import Store  # noqa: F401  (the store fixture's type)
    from qc.registry import get_test
    from qc.tolerances import Tolerance

    rep = synthetic_report(dt.date(2026, 3, 2), seed=3)
    spec = get_test("piqt", store)

    def judged():
        return pipeline.judge(store, spec, analyse([("PIQT.htm", rep.html)], CTX), machine)

    before = judged()
    snr_items = [r for r in before.result.items if r["parameter"] == "Nema S/N (B)" and r["value"] is not None]
    strict = max(r["value"] for r in snr_items) + 1.0  # above every S/N of the report: all fail by the table
    assert all(r["status"] == "pass" for r in snr_items) and before.status == "pass"

    store.set_tolerance("piqt", "Nema S/N (B)", Tolerance(act_low=strict, tol_low=strict, reference="stricter S/N"),
                        valid_from="2026-03-03", user="phys", comment="later")
    assert judged().status == "pass"  # the report predates the stricter limit
    store.set_tolerance("piqt", "Nema S/N (B)", Tolerance(act_low=strict, tol_low=strict, reference="stricter S/N"),
                        valid_from="2026-03-01", user="phys", comment="stricter")
    after = judged()
    snr_after = [r for r in after.result.items if r["parameter"] == "Nema S/N (B)" and r["value"] is not None]
    assert snr_after and all(r["status"] == "fail" for r in snr_after)
    snr_metrics = [j for j in after.judged if j.name == "Nema S/N (B)" and j.value is not None]
    assert snr_metrics and all(j.status == "fail" and j.bounds[0] == strict and j.reference == "stricter S/N" for j in snr_metrics)
    others = [j for j in after.judged if j.name == "Nema_FWHM"]
    assert others and all(j.status == "pass" and j.reference.startswith("C") for j in others)
    assert after.status == "fail" and after.result.metrics["n_failing"] == len(snr_after)
