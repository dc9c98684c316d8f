"""The beam-axis warning says which date has no calibration and which calibration exists (issue 13)."""

from __future__ import annotations

import datetime as dt

from qc import pipeline
from qc.registry import get_test
from qc.synthetic.field import demo_session


def test_warning_names_the_missing_date_and_the_calibration_that_starts_later(store):
    mid = store.add_machine("Unity B", "UNITY-DEMO", "DEMO-0001", user="t")
    store.add_calibration(mid, 511.03, 652.75, "2026-06-01", user="t")
    files = demo_session(dt.datetime(2026, 5, 4, 8, 0), rng_seed=1)
    analysis = pipeline.analyse(store, get_test("field"), files, store.machine(mid), "fr")
    text = " ".join(analysis.warnings)
    assert "2026-05-04" in text and "2026-06-01" in text and "511" in text
    assert "aucune calibration" in text
    # centre offsets are not measured without a calibration in force: the session cannot pass
    assert analysis.status == "fail"


def test_warning_for_a_machine_without_any_calibration(store):
    mid = store.add_machine("Unity C", "UNITY-DEMO", "DEMO-0001", user="t")
    files = demo_session(dt.datetime(2026, 5, 4, 8, 0), rng_seed=1)
    analysis = pipeline.analyse(store, get_test("field"), files, store.machine(mid), "en")
    assert any("has no beam-axis (CAX) calibration" in w for w in analysis.warnings)
