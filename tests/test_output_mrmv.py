"""Output (chamber reading with k_TP) and MR-to-MV alignment logged tests: formulas against hand-computed
values, defaults for the optional fields, verdicts at the 2 %/3 % and 1 mm limits, and the trend through the store."""

from __future__ import annotations

import datetime as dt

import pytest

from qc import pipeline
from qc.errors import QCInputError
from qc.records.logged import MR_MV, OUTPUT
from qc.registry import get_test

NOW = dt.datetime(2026, 10, 12, 8, 0)


@pytest.mark.parametrize(
    "t_c, p_kpa, expected",
    [
        ("20", "101,325", 1.0),  # reference conditions
        ("22", "100", 1.0201628),  # 295.15/293.15 × 101.325/100
        ("18,5", "102.1", 0.9873314),  # 291.65/293.15 × 101.325/102.1
    ],
)
def test_ktp_matches_hand_computed_values(t_c, p_kpa, expected):
    r = OUTPUT.evaluate({"chamber_reading": "20", "temperature_c": t_c, "pressure_kpa": p_kpa, "reference_reading": "20"}, acquired_at=NOW)
    assert r.measurement("k_tp").value == pytest.approx(expected, abs=1e-6)
    assert r.measurement("output_deviation_pct").value == pytest.approx((expected - 1) * 100, abs=1e-4)


def test_ktp_with_department_t0_p0_and_cross_calibration():
    values = {"chamber_reading": "20,12", "temperature_c": "23", "pressure_kpa": "99,5", "reference_reading": "20,5",
              "cross_calibration_factor": "1,012", "t0_c": "20", "p0_kpa": "101,325"}
    r = OUTPUT.evaluate(values, acquired_at=NOW)
    assert r.measurement("k_tp").value == pytest.approx(1.0287631, abs=1e-6)  # 296.15/293.15 × 101.325/99.5
    assert r.measurement("corrected_reading").value == pytest.approx(20.947098, abs=1e-5)
    assert r.measurement("output_deviation_pct").value == pytest.approx(2.180965, abs=1e-5)
    # T0 = 22 °C (a department working at 22 °C): k_TP is 1 at T = 22 °C, P = P0
    r22 = OUTPUT.evaluate({**values, "temperature_c": "22", "pressure_kpa": "101,325", "t0_c": "22"}, acquired_at=NOW)
    assert r22.measurement("k_tp").value == pytest.approx(1.0, abs=1e-12)


def test_pressure_in_hpa_is_refused_with_a_clear_sentence():
    with pytest.raises(QCInputError) as info:
        OUTPUT.evaluate({"chamber_reading": "20", "temperature_c": "21", "pressure_kpa": "1013", "reference_reading": "20"}, acquired_at=NOW)
    assert info.value.key == "logged.err.out_of_range"
    assert "Pression" in info.value.message("fr")


@pytest.mark.parametrize("reading, status", [("20,3", "pass"), ("20,5", "warning"), ("19,3", "fail"), ("20,7", "fail")])
def test_output_verdict_at_2_and_3_percent(store, machine, reading, status):
    spec = get_test("output")
    values = {"chamber_reading": reading, "temperature_c": "20", "pressure_kpa": "101,325", "reference_reading": "20"}
    a = pipeline.record_logged(store, spec, machine, values, acquired_at=NOW)
    assert a.status == status


@pytest.mark.parametrize("xyz, status", [(("0,3", "-0,2", "0,4"), "pass"), (("0,6", "0,5", "0"), "warning"), (("0,9", "0,2", "0,5"), "fail"), (("1,2", "0", "0"), "fail")])
def test_mr_mv_judged_on_each_translation_and_the_3d_distance(store, machine, xyz, status):
    spec = get_test("mr_mv")
    values = {"mrmv_x_mm": xyz[0], "mrmv_y_mm": xyz[1], "mrmv_z_mm": xyz[2], "mrmv_rotation_deg": "0,1", "mrmv_last_calibration": "2026-09-30"}
    a = pipeline.record_logged(store, spec, machine, values, acquired_at=NOW)
    assert a.status == status
    x, y, z = (float(v.replace(",", ".")) for v in xyz)
    assert a.result.measurement("mrmv_distance_mm").value == pytest.approx((x * x + y * y + z * z) ** 0.5, abs=1e-6)


def test_mr_mv_is_trended_and_keeps_the_calibration_date(store, machine):
    spec = get_test("mr_mv")
    for i, x in enumerate(("0,2", "0,3", "0,4")):
        a = pipeline.record_logged(store, spec, machine, {"mrmv_x_mm": x, "mrmv_y_mm": "0", "mrmv_z_mm": "0", "mrmv_last_calibration": "2026-09-30"},
                                   acquired_at=NOW + dt.timedelta(days=30 * i))
        pipeline.store_analysis(store, a, operator="phys")
        assert a.result.params["texts"]["mrmv_last_calibration"] == "2026-09-30"
    df = store.metrics_frame(machine_id=machine["id"], test="mr_mv")
    assert sorted(df[df["metric"] == "mrmv_x_mm"]["value"].tolist()) == [0.2, 0.3, 0.4]
    assert spec.metric("mrmv_distance_mm").trend
