"""MVIC Fente (qc.mv.slits): slit centres and FWHM widths per leaf pair against the generator's truth,
baseline round trip, displaced leaves, bad input, charts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from qc import pipeline
from qc.demo_inputs import slits_demo
from qc.mv import slits as S
from qc.errors import QCInputError
from qc.registry import AnalysisContext, Calibration
from qc.synthetic import UNITY_CAX_PX
from qc.synthetic import mlc as sm
from qc.tolerances import judge_measurements

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
WHEN = dt.datetime(2026, 3, 3, 8, 0)
ERRORS = {(33, "A"): 0.7, (33, "B"): 0.7, (45, "A"): -0.5, (47, "B"): 0.8, (50, "A"): 1.2, (50, "B"): 1.2}


def _ctx(**kw) -> AnalysisContext:
    cal = Calibration(UNITY_CAX_PX[0], UNITY_CAX_PX[1], "2024-01-01", 4)
    return AnalysisContext(cax_for=lambda _d: cal, lang=kw.pop("lang", "en"), **kw)


@pytest.fixture(scope="module")
def reference():
    files, op = sm.slit_session(WHEN, rng_seed=21)
    return S.analyse(files, _ctx()), op


@pytest.fixture(scope="module")
def displaced(reference):
    files, op = sm.slit_session(WHEN + dt.timedelta(days=7), rng_seed=22, errors=ERRORS)
    baseline = S.baseline_from_result(reference[0])
    return S.analyse(files, _ctx(baseline=baseline)), op


_TRUTH: dict[tuple[int, int], list[tuple[float, float]]] = {}


def _truth(op: np.ndarray, pair: int, slit: int) -> tuple[float, float]:
    key = (id(op), pair)
    if key not in _TRUTH:
        _TRUTH[key] = sm.slit_truth(op, pair)
    return _TRUTH[key][slit - 1]


CENTRE_MM, WIDTH_MM = 0.02, 0.05  # docs/accuracy-synthetic.md "Accuracy (measured)"


def test_centres_and_widths_match_truth(reference, displaced):
    """Truth: FWHM and centre of the generator's noise-free profile at the pair centre, computed on a
    0.002 mm grid with the same level definition (qc.synthetic.mlc.slit_truth)."""
    for result, op in (reference, displaced):
        assert len(result.items) == 5 * 30
        for it in result.items:
            c, w = _truth(op, it["pair"], int(it["slit"].split()[1]))
            assert it["centre_mm"] == pytest.approx(c, abs=CENTRE_MM)
            assert it["width_mm"] == pytest.approx(w, abs=WIDTH_MM)


def test_reference_session_against_plan(reference):
    result, _ = reference
    result = pipeline.judge(None, S.SPEC, result, None).result  # the pipeline judges the pairs and counts them
    met = result.metrics
    assert met["n_slits"] == 5 and met["n_leaf_pairs"] == 30
    for k, (c, _w) in enumerate(S.DEFAULT_SLITS_MM, start=1):
        assert met[f"slit_centre_mean_mm[slit {k}]"] == pytest.approx(c, abs=0.1)
        assert met[f"slit_centre_sd_mm[slit {k}]"] < 0.05
        assert met[f"slit_fwhm_mm[slit {k}]"] == pytest.approx(6.9, abs=0.15)  # FWHM of 5 mm ⊗ σ 2.5 mm
        assert met[f"slit_width_mean_mm[slit {k}]"] is None  # no baseline: width constancy not measurable
    assert met["max_abs_centre_dev_mm"] < 0.1 and met["max_abs_width_dev_mm"] is None
    assert met["n_leaf_pairs_not_measured"] == 0 and met["n_pairs_out_of_tolerance"] == 0
    assert any("baseline" in w for w in result.warnings)
    judged = {(j.name, j.item): j.status for j in judge_measurements(result.measurements, lambda n: S.SPEC_METRICS[n].tolerance)}
    assert judged[("slit_width_mean_mm", "slit 1")] == "fail"  # Non mesuré: a pass would claim a width check
    assert judged[("slit_centre_mean_mm", "slit 3")] == "pass"
    assert judged[("n_slits", "")] == "pass"


def test_session_status_without_baseline_and_with_a_missing_slit(reference):
    """Status level: without a baseline the session is Non conforme (widths unchecked); with one it
    passes; a planned slit that is missing fails the slit count; an unmatched slit's centre fails."""
    from qc import pipeline

    result, _ = reference
    assert pipeline.judge(None, S.SPEC, result, None).status == "fail"
    files, _ = sm.slit_session(WHEN, rng_seed=24)
    ok = S.analyse(files, _ctx(baseline=S.baseline_from_result(result)))
    assert pipeline.judge(None, S.SPEC, ok, None).status == "pass"
    four, _ = sm.slit_session(WHEN, rng_seed=25, slits_mm=sm.SLITS_MM[:4])
    r = S.analyse(four, _ctx(baseline=S.baseline_from_result(result)))
    a = pipeline.judge(None, S.SPEC, r, None)
    assert {(j.name, j.item): j.status for j in a.judged}[("n_slits", "")] == "fail" and a.status == "fail"
    far = S.analyse(files, _ctx(options={"nominal_slits_mm": [(-40, 5), (-20, 5), (0, 5), (20, 5), (60, 5)]}))
    j = {(j.name, j.item): (j.value, j.status) for j in pipeline.judge(None, S.SPEC, far, None).judged}
    assert j[("slit_centre_mean_mm", "slit 5")] == (None, "fail")


def test_per_pair_limit_from_the_dated_tolerance_table(reference, displaced):
    """Each pair's row is judged by `slit_error_mm` in force on the date; its id is recorded."""
    from qc.tolerances import Tolerance

    files, _ = sm.slit_session(WHEN + dt.timedelta(days=7), rng_seed=22, errors=ERRORS)
    tol = Tolerance(act_low=-1.0, tol_low=-0.6, tol_high=0.6, act_high=1.0, mode="relative", id=77)
    r = S.analyse(files, _ctx(baseline=S.baseline_from_result(reference[0]),
                              tolerance_for=lambda m, _w: tol if m == "slit_error_mm" else None))
    assert r.params["slit_tolerance"]["id"] == 77
    assert all("status" not in it for it in r.items)  # the analyser measures; the pipeline judges each pair
    pipeline.judge_result_items(S.SPEC, r, lambda m: tol if m == "slit_error_mm" else None)  # as pipeline.judge, with this table
    st = {(it["slit"], it["pair"]): it["status"] for it in r.items}
    assert st[("slit 3", 50)] == "fail" and st[("slit 3", 47)] == "pass" and st[("slit 3", 33)] == "warning"
    assert r.metrics["n_pairs_out_of_tolerance"] == 5


def test_displaced_leaves_against_baseline(reference, displaced):
    base, op0 = reference
    result, op1 = displaced
    assert not any("baseline" in w for w in result.warnings)
    for it in result.items:
        s = int(it["slit"].split()[1])
        c0, w0 = _truth(op0, it["pair"], s)
        c1, w1 = _truth(op1, it["pair"], s)
        assert it["centre_dev_mm"] == pytest.approx(c1 - c0, abs=0.1)
        assert it["width_dev_mm"] == pytest.approx(w1 - w0, abs=0.1)
    row = next(it for it in result.items if it["pair"] == 50 and it["slit"] == "slit 3")
    assert row["centre_dev_mm"] == pytest.approx(1.2, abs=0.1)
    assert result.metrics["max_abs_centre_dev_mm"] == pytest.approx(1.2, abs=0.1)
    judged = {(j.name, j.item): j.status for j in judge_measurements(result.measurements, lambda n: S.SPEC_METRICS[n].tolerance)}
    assert judged[("max_abs_centre_dev_mm", "")] == "fail"
    assert judged[("slit_width_mean_mm", "slit 2")] == "pass"  # judged against the baseline now


def test_baseline_structure_round_trips(reference):
    bl = S.baseline_from_result(reference[0])
    assert set(bl["slits"]) == {f"slit {k}" for k in range(1, 6)}
    assert len(bl["slits"]["slit 1"]["pairs"]) == 30
    import json

    json.dumps(bl)  # stored as JSON


def test_configured_plan(reference):
    files, _ = sm.slit_session(WHEN, rng_seed=23, slits_mm=((-30.0, 8.0), (10.0, 8.0)))
    r = S.analyse(files, _ctx(options={"nominal_slits_mm": [(-30, 8), (10, 8)]}))
    assert r.metrics["n_slits"] == 2
    assert r.metrics["slit_centre_mean_mm[slit 2]"] == pytest.approx(10.0, abs=0.1)
    assert not any("slits found" in w for w in r.warnings)


def test_charts_and_overlays(displaced):
    result, _ = displaced
    charts = S.charts(result, "fr")
    assert len(charts) == 2 and all(c.to_dict() for _, c in charts)
    assert len(result.overlays) == 1 and result.overlays[0][1].shape == (512, 512, 3)


def test_gap_image_is_refused():
    files, _ = sm.aqua_session(WHEN, rng_seed=2, gaps_mm=((-20.0, 0.0),))
    with pytest.raises(QCInputError) as e:
        S.analyse(files, _ctx())
    assert e.value.key == "err.wrong_image" and "leaf-position" in e.value.message("en")


def test_open_field_and_mr_refused():
    from qc.synthetic.field import field_image

    with pytest.raises(QCInputError) as e:
        S.analyse([("open.dcm", field_image(85, 85, rng=2)[0])], _ctx())
    assert e.value.key == "err.wrong_image"
    path = DATA / "hazen" / "snr" / "Philips" / "Philips_IM-0011-0005.dcm"
    if not path.exists():
        pytest.skip(f"needs the shared real-image data ({path})")
    with pytest.raises(QCInputError) as e:
        S.analyse([(path.name, path.read_bytes())], _ctx())
    assert e.value.key == "err.wrong_modality"


def test_spec_and_demo():
    assert S.SPEC.key == "slits" and S.SPEC.name_fr == "MVIC Fente"
    names = {m.name for m in S.SPEC.metrics}
    assert {"slit_centre_mean_mm", "slit_centre_sd_mm", "slit_width_mean_mm", "slit_max_abs_dev_mm", "n_slits", "n_leaf_pairs",
            "max_abs_centre_dev_mm", "max_abs_width_dev_mm", "slit_fwhm_mm", "slit_error_mm", "n_leaf_pairs_not_measured",
            "n_pairs_out_of_tolerance"} == names
    assert len(slits_demo()) == 1


def test_charts_from_stored_items_only(displaced):
    from qc.results import AnalysisResult

    result, _ = displaced
    stored = AnalysisResult(test="slits", measurements=result.measurements, items=result.items)
    assert len(S.charts(stored, "en")) == 2


def test_baseline_chosen_by_the_acquisition_date(store, machine, reference):
    """A baseline valid from a later date is not in force for an earlier session (its widths are then
    Non mesuré); a session after that date is compared with it."""
    from qc import pipeline

    store.set_baseline(machine["id"], "slits", S.baseline_from_result(reference[0]), None, "test", valid_from="2026-03-10")
    early, _ = sm.slit_session(dt.datetime(2026, 3, 9, 8), rng_seed=26)
    late, _ = sm.slit_session(dt.datetime(2026, 3, 11, 8), rng_seed=27)
    a = pipeline.analyse(store, S.SPEC, early, machine, lang="en")
    assert a.result.params["reference"].startswith("nominal") and a.status == "fail"
    b = pipeline.analyse(store, S.SPEC, late, machine, lang="en")
    assert b.result.params["reference"] == "baseline" and b.status == "pass"


def test_without_calibration_slit_centres_are_not_measured(reference):
    """No calibration in force: the imager centre (30 mm off on the Unity) is never a reference, so the
    centres are Non mesuré and the session fails with the reason; widths against the baseline still pass."""
    from qc import pipeline

    files, _ = sm.slit_session(WHEN, rng_seed=28)
    r = S.analyse(files, AnalysisContext(lang="en", baseline=S.baseline_from_result(reference[0])))
    assert any("No beam-axis calibration" in w for w in r.warnings)
    assert not any("has no nominal or baseline slit" in w for w in r.warnings)
    j = {(x.name, x.item): (x.value, x.status) for x in pipeline.judge(None, S.SPEC, r, None).judged}
    assert j[("slit_centre_mean_mm", "slit 3")] == (None, "fail") and j[("max_abs_centre_dev_mm", "")][1] == "fail"
    assert j[("slit_width_mean_mm", "slit 3")][1] == "pass" and j[("max_abs_width_dev_mm", "")][1] == "pass"
