"""Trend charts and drift: the band drawn for a past date is the tolerance in force that day."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from qc import pipeline
from qc.registry import get_test
from qc.tolerances import Tolerance
from qc.reporting.trends import drift_signal, small_multiples, trend_chart


def _chart_rows(chart_dict: dict) -> pd.DataFrame:
    """The one dataset every layer of a trend chart draws from."""
    return pd.DataFrame(chart_dict["datasets"][chart_dict["data"]["name"]])


def test_band_drawn_for_a_past_date_is_the_tolerance_in_force_that_day(store, machine):
    spec = get_test("couch")
    for day, r2 in ((dt.datetime(2026, 3, 2), "21,58"), (dt.datetime(2026, 4, 6), "21,59"), (dt.datetime(2026, 5, 4), "21,58")):
        a = pipeline.record_logged(store, spec, machine, {"couch_readout_1_cm": "17,5", "couch_readout_2_cm": r2}, acquired_at=day)
        pipeline.store_analysis(store, a, operator="AG")
        if day.month == 3:
            # From April on, SBRT practice: ±1 mm.
            store.set_tolerance("couch", "couch_deviation_mm", Tolerance(act_low=-1, tol_low=-0.5, tol_high=0.5, act_high=1),
                                unit="mm", valid_from="2026-04-01", user="phys", comment="SBRT")
    df = store.metrics_frame(test="couch", metric="couch_deviation_mm")
    chart = trend_chart(df, "Écart", "mm").to_dict()
    rows = _chart_rows(chart)
    rows["acquired_at"] = pd.to_datetime(rows["acquired_at"])
    march = rows[rows["acquired_at"].dt.month == 3].iloc[0]
    may = rows[rows["acquired_at"].dt.month == 5].iloc[0]
    band = chart["layer"][1]["encoding"]  # layers: action band, tolerance band, line, points
    assert (band["y"]["field"], band["y2"]["field"]) == ("tol_lo", "tol_hi")
    assert (march["tol_lo"], march["tol_hi"]) == (-1.5, 1.5)
    assert (may["tol_lo"], may["tol_hi"]) == (-0.5, 0.5)
    assert (march["act_lo"], march["act_hi"]) == (-2.0, 2.0) and (may["act_lo"], may["act_hi"]) == (-1.0, 1.0)
    statuses = df.set_index(df["acquired_at"].dt.month)["status"].to_dict()
    assert statuses == {3: "pass", 4: "warning", 5: "warning"}  # 0.8-0.9 mm: fine in March, alert after
    assert chart["layer"][-1]["encoding"]["href"]["field"] == "link"  # each point links to its session


def _series(values, start=dt.datetime(2026, 1, 5), step_days=7, tol=(-1.0, 1.0)):
    return pd.DataFrame({
        "acquired_at": [start + dt.timedelta(days=step_days * i) for i in range(len(values))],
        "value": values, "tol_low": tol[0], "tol_high": tol[1],
    })


def test_drift_signal_flags_a_trend_towards_the_limit():
    rising = drift_signal(_series([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]))
    assert rising.slope_per_30d == pytest.approx(0.1 * 30 / 7)
    assert rising.reaches_limit and rising.days_to_limit == pytest.approx(21.0)
    flat = drift_signal(_series([0.1, -0.1, 0.1, -0.1, 0.1, -0.1]))
    assert not flat.reaches_limit
    assert drift_signal(_series([0.1, 0.2, 0.3])) is None  # too few points


def test_small_multiples_one_chart_per_series(store, machine):
    spec = get_test("laser")
    for i in range(3):
        a = pipeline.record_logged(store, spec, machine, {"laser_proximal_mm": "0,1", "laser_central_mm": "0,2", "laser_distal_mm": "0,3"},
                                   acquired_at=dt.datetime(2026, 1 + i, 5))
        pipeline.store_analysis(store, a, operator="AG")
    chart = small_multiples(store.metrics_frame(test="laser"), spec).to_dict()
    assert len(chart["concat"]) == 3
