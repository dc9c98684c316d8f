"""Logged tests: data-defined forms, decimal comma, ranges, derived values, helium rate, due dates."""

from __future__ import annotations

import datetime as dt

import pytest

from qc import pipeline
from qc.errors import QCInputError
from qc.records.logged import COUCH, HELIUM, SAFETY, Derived, LoggedField, LoggedTest, decline_rate, evaluate_formula, save_custom_logged_test
from qc.registry import all_tests, get_test
from qc.records.schedule import add_months, due_table, next_due
from qc.tolerances import Tolerance

NOW = dt.datetime(2026, 10, 12, 9, 0)


@pytest.mark.parametrize("r1, r2, expected", [("17,5", "21,5", 0.0), ("17.5", "21.62", 1.2), ("17,50", "21,31", -1.9), ("100", "104,25", 2.5)])
def test_couch_deviation_is_signed_and_accepts_decimal_comma(r1, r2, expected):
    r = COUCH.evaluate({"couch_readout_1_cm": r1, "couch_readout_2_cm": r2}, acquired_at=NOW)
    assert r.measurement("couch_deviation_mm").value == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("raw, key", [("150", "logged.err.out_of_range"), ("-1", "logged.err.out_of_range"), ("douze", "logged.err.not_a_number"),
                                      ("", "logged.err.required"), ("1,2,3", "logged.err.not_a_number")])
def test_impossible_values_are_refused_with_a_clear_message(raw, key):
    with pytest.raises(QCInputError) as info:
        HELIUM.evaluate({"helium_level_pct": raw}, acquired_at=NOW)
    assert info.value.key == key
    assert "hélium" in info.value.message("fr").lower()


def test_failed_checklist_item_needs_a_comment():
    values = {f.key: True for f in SAFETY.fields}
    values["safety_door_interlock"] = False
    with pytest.raises(QCInputError) as info:
        SAFETY.evaluate(values, acquired_at=NOW)
    assert info.value.key == "logged.err.comment_needed"
    r = SAFETY.evaluate(values, acquired_at=NOW, comments={"safety_door_interlock": "contact changé"})
    assert r.measurement("safety_door_interlock").value == 0.0
    assert r.measurement("n_failed_items").value == 1.0


def test_helium_decline_rate_restarts_after_a_refill():
    start = dt.datetime(2026, 1, 5)
    levels = [80.0, 79.7, 79.4, 79.1, 92.0, 91.5, 91.0, 90.5]
    readings = [(start + dt.timedelta(weeks=i), v) for i, v in enumerate(levels)]
    rate, refill = decline_rate(readings[:4], 7, 6, 2.0)
    assert rate == pytest.approx(-0.3) and not refill
    rate, refill = decline_rate(readings[:5], 7, 6, 2.0)
    assert rate is None and refill  # the refill reading starts a new series
    rate, refill = decline_rate(readings, 7, 6, 2.0)
    assert rate == pytest.approx(-0.5) and not refill
    rate, _ = decline_rate(readings, 7, 3, 2.0)  # last N only
    assert rate == pytest.approx(-0.5)


def test_helium_rate_through_the_store(store, machine):
    spec = get_test("helium")
    start = dt.datetime(2026, 1, 5, 8)
    for i, v in enumerate([80.0, 79.0, 78.0]):
        a = pipeline.record_logged(store, spec, machine, {"helium_level_pct": str(v).replace(".", ",")}, acquired_at=start + dt.timedelta(weeks=i))
        pipeline.store_analysis(store, a, operator="AG")
    a = pipeline.record_logged(store, spec, machine, {"helium_level_pct": "77"}, acquired_at=start + dt.timedelta(weeks=3))
    j = {x.name: x for x in a.judged}
    assert j["helium_decline_pct_per_week"].value == pytest.approx(-1.0)
    assert j["helium_decline_pct_per_week"].status == "warning"  # tol −0.5, action −1.0 %/week
    assert j["helium_level_pct"].status == "pass"


def test_formula_evaluation_is_arithmetic_only():
    assert evaluate_formula("sqrt(a**2 + b**2)", {"a": 3, "b": 4}) == 5
    for bad in ("__import__('os')", "a.real", "[a]", "open('x')"):
        with pytest.raises((ValueError, SyntaxError, KeyError)):
            evaluate_formula(bad, {"a": 1.0})


def test_custom_logged_test_added_through_settings_code_path(store, machine):
    test = LoggedTest(
        key="output_custom",
        name_fr="Constance du débit",
        name_en="Output constancy",
        frequency="daily",
        fields=[LoggedField("reading_nc", "Lecture", "Reading", unit="nC", min=0, max=100),
                LoggedField("reference_nc", "Référence", "Reference", unit="nC", min=0, max=100)],
        derived=[Derived("output_dev_pct", "Écart", "Deviation", unit="%", formula="(reading_nc / reference_nc - 1) * 100",
                         tolerance=Tolerance(act_low=-3, tol_low=-2, tol_high=2, act_high=3, reference="TG-142"))],
        builtin=False,
    )
    save_custom_logged_test(store, test, "phys")
    keys = [t.key for t in all_tests(store)]
    assert "output_custom" in keys
    spec = get_test("output_custom", store)
    a = pipeline.record_logged(store, spec, machine, {"reading_nc": "20,5", "reference_nc": "20"}, acquired_at=NOW)
    assert {j.name: j.status for j in a.judged}["output_dev_pct"] == "warning"  # +2.5 %
    sid = pipeline.store_analysis(store, a, operator="AG")
    # in History data, in the due list and in the monthly report
    assert store.metrics_frame(test="output_custom")["session_id"].tolist() == [sid, sid, sid]
    rows = {r.test: r for r in due_table(store, machine["id"], all_tests(store), NOW.date())}
    assert rows["output_custom"].last_done == NOW.date() and rows["output_custom"].next_due == dt.date(2026, 10, 13)
    from qc.reporting.report import monthly_report_pdf
    from pypdf_text import pdf_text

    text = pdf_text(monthly_report_pdf(store, machine["id"], "2026-10"))
    assert "Constance du débit" in text
    assert store.audit_frame()["action"].tolist().count("add_logged_test") == 1


def test_invalid_definitions_are_refused(store):
    with pytest.raises(ValueError):
        save_custom_logged_test(store, LoggedTest("Bad Key", "x", "x", "weekly", [LoggedField("a", "A", "A")]), "p")
    with pytest.raises(ValueError):
        save_custom_logged_test(store, LoggedTest("ok_key", "x", "x", "weekly", [LoggedField("a", "A", "A")],
                                                  derived=[Derived("d", "D", "D", formula="a + unknown")]), "p")
    with pytest.raises(ValueError):
        save_custom_logged_test(store, LoggedTest("helium", "x", "x", "weekly", [LoggedField("a", "A", "A")]), "p")


@pytest.mark.parametrize(
    "last, freq, expected",
    [
        (dt.date(2026, 1, 31), "monthly", dt.date(2026, 2, 28)),
        (dt.date(2028, 1, 31), "monthly", dt.date(2028, 2, 29)),
        (dt.date(2026, 3, 31), "monthly", dt.date(2026, 4, 30)),
        (dt.date(2026, 12, 15), "monthly", dt.date(2027, 1, 15)),
        (dt.date(2026, 12, 28), "weekly", dt.date(2027, 1, 4)),
        (dt.date(2026, 11, 20), "daily", dt.date(2026, 11, 23)),  # Friday → Monday
        (dt.date(2026, 11, 23), "daily", dt.date(2026, 11, 24)),
        (dt.date(2026, 11, 30), "quarterly", dt.date(2027, 2, 28)),
        (dt.date(2024, 2, 29), "yearly", dt.date(2025, 2, 28)),
    ],
)
def test_due_dates_across_month_ends(last, freq, expected):
    assert next_due(last, freq, dt.date(2030, 1, 1)) == expected


def test_due_table_orders_overdue_first(store, machine):
    spec = get_test("couch")
    a = pipeline.record_logged(store, spec, machine, {"couch_readout_1_cm": "17,5", "couch_readout_2_cm": "21,5"}, acquired_at=dt.datetime(2026, 9, 1))
    pipeline.store_analysis(store, a, operator="AG")
    rows = due_table(store, machine["id"], all_tests(store), dt.date(2026, 9, 15))
    couch = next(r for r in rows if r.test == "couch")
    assert couch.next_due == dt.date(2026, 10, 1) and not couch.overdue
    never = next(r for r in rows if r.test == "helium")
    assert never.overdue and never.last_done is None
    assert rows[0].overdue and not rows[-1].overdue
    assert add_months(dt.date(2026, 8, 31), 6) == dt.date(2027, 2, 28)
