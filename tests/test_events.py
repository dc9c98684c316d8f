"""Machine events: stored (m005) with checks, drawn on every trend chart and in the monthly PDF,
and the drift signal restarts after them; CLI `python -m qc event add/list`; the Settings form."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from qc import cli, pipeline
from qc.errors import QCInputError
from qc.registry import get_test
from qc.reporting.trends import drift_signal, last_event_before, small_multiples, trend_chart


def _series(values, start=dt.datetime(2026, 1, 5), step_days=7, tol=(-1.0, 1.0)):
    return pd.DataFrame({
        "acquired_at": [start + dt.timedelta(days=step_days * i) for i in range(len(values))],
        "value": values, "tol_low": tol[0], "tol_high": tol[1],
    })


def test_events_are_stored_listed_and_audited(store, machine):
    eid = store.add_event(machine["id"], dt.date(2026, 3, 10), "upgrade", "Mise à jour logicielle R5", user="phys")
    store.add_event(machine["id"], "2026-01-20", "service", "", user="phys")
    ev = store.events(machine["id"])
    assert list(ev["kind"]) == ["service", "upgrade"]  # oldest first
    assert ev["occurred_at"].iloc[1] == pd.Timestamp("2026-03-10")
    assert list(store.events(machine["id"], "2026-03-01", "2026-03-31")["id"]) == [eid]
    audit = store.audit_frame()
    assert (audit["action"] == "add_event").sum() == 2
    assert "machine_events" in store.db.table_names()


@pytest.mark.parametrize("when, kind, key", [("2026-03-10", "party", "event.err.kind"), ("10/03/2026", "service", "event.err.date"),
                                             ((dt.date.today() + dt.timedelta(days=5)).isoformat(), "service", "event.err.future")])
def test_bad_events_are_refused(store, machine, when, kind, key):
    with pytest.raises(QCInputError) as info:
        store.add_event(machine["id"], when, kind)
    assert info.value.key == key
    assert store.events(machine["id"]).empty


def test_drift_signal_restarts_after_an_event():
    # a step after a service: the slope over the whole series looks like a drift, after the event it is flat
    values = [0.0, 0.02, -0.01, 0.01, 0.0, 0.5, 0.52, 0.49, 0.51, 0.5]
    df = _series(values)
    service = df["acquired_at"].iloc[5] - dt.timedelta(days=1)
    before = drift_signal(df)
    after = drift_signal(df, events=[service])
    assert before.reaches_limit and before.slope_per_30d > 0.2
    assert after.n == 5 and abs(after.slope_per_30d) < 0.05 and not after.reaches_limit
    assert last_event_before([service], df["acquired_at"].iloc[-1]) == pd.Timestamp(service)
    # fewer than 4 results since the event: no signal yet (it restarts)
    assert drift_signal(df, events=[df["acquired_at"].iloc[7] - dt.timedelta(hours=1)]) is None


def _event_layers(chart: dict) -> list[dict]:
    """The rule layers of a chart, each with the data it draws (its own or its parent layer's)."""
    out = []
    for layer in chart["layer"]:
        for sub in layer.get("layer", [layer]):
            mark = sub.get("mark", {})
            if isinstance(mark, dict) and mark.get("type") == "rule":
                out.append({**sub, "data": sub.get("data") or layer.get("data")})
    return out


def test_trend_chart_draws_the_event_as_a_marked_vertical_line(store, machine):
    spec = get_test("laser")
    for i in range(3):
        a = pipeline.record_logged(store, spec, machine, {"laser_proximal_mm": "0,1", "laser_central_mm": "0,2", "laser_distal_mm": "0,3"},
                                   acquired_at=dt.datetime(2026, 1 + i, 5))
        pipeline.store_analysis(store, a, operator="AG")
    store.add_event(machine["id"], "2026-02-01", "mlc_change", "Changement de lame 23", user="phys")
    events = store.events(machine["id"])
    df = store.metrics_frame(test="laser", metric="laser_central_mm")
    chart = trend_chart(df, "Central", "mm", events=events).to_dict()
    rules = _event_layers(chart)
    assert len(rules) == 1
    data = chart["datasets"][rules[0]["data"]["name"]]
    assert data[0]["event"] == "Changement du MLC" and data[0]["note"] == "Changement de lame 23"
    assert chart["layer"][-1]["encoding"]["href"]["field"] == "link"  # points stay on top and linked
    grid = small_multiples(store.metrics_frame(test="laser"), spec, events=events).to_dict()
    assert all(len(_event_layers(c)) == 1 for c in grid["concat"])
    assert _event_layers(trend_chart(df, "Central", "mm").to_dict()) == []  # no event, no line


def test_monthly_pdf_lists_the_events_and_draws_them(store, machine, monkeypatch):
    from qc.reporting import pdf_chart, report

    spec = get_test("laser")
    for d in (3, 12, 20):
        a = pipeline.record_logged(store, spec, machine, {"laser_proximal_mm": "0,1", "laser_central_mm": "0,2", "laser_distal_mm": "0,3"},
                                   acquired_at=dt.datetime(2026, 2, d))
        pipeline.store_analysis(store, a, operator="AG")
    store.add_event(machine["id"], "2026-02-10", "recalibration", "Réétalonnage MR-MV", user="phys")
    seen = []
    real = pdf_chart.draw_trend_chart

    def spy(*args, **kw):
        seen.append(kw.get("events"))
        return real(*args, **kw)

    monkeypatch.setattr(pdf_chart, "draw_trend_chart", spy)
    pdf = report.monthly_report_pdf(store, machine["id"], "2026-02", lang="fr", tests=[spec])
    assert pdf[:4] == b"%PDF"
    assert seen and all(e is not None and len(e) == 1 for e in seen)
    import subprocess

    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    assert "Événements machine du mois" in text and "Réétalonnage MR-MV" in text


def test_cli_event_add_and_list(store, machine, capsys):
    assert cli.main(["event", "add", "--machine", machine["name"], "--date", "2026-04-02", "--kind", "upgrade", "--note", "R5.1", "--by", "phys"]) == 0
    assert cli.main(["event", "list", "--machine", machine["name"]]) == 0
    out = capsys.readouterr().out
    assert "2026-04-02" in out and "Mise à jour" in out and "R5.1" in out
    assert cli.main(["event", "add", "--machine", machine["name"], "--kind", "upgrade"]) == 2  # no date: one sentence, exit 2
    assert "AAAA-MM-JJ" in capsys.readouterr().err
    assert len(store.events(machine["id"])) == 1


def test_settings_form_records_an_event(qc_data_dir):
    from streamlit.testing.v1 import AppTest

    from conftest import REPO
    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity A")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    at.session_state["lang"] = "fr"
    at.session_state["operator"] = "PH"
    at.run()
    at.switch_page("pages/settings.py").run()
    at.date_input(key="set_event_date").set_value(dt.date.today() - dt.timedelta(days=3))
    at.selectbox(key="set_event_kind").set_value("upgrade")
    at.text_input(key="set_event_note").input("Mise à jour R5.1")
    submit = [b for b in at.button if "set_event_form" in (b.key or "")][0]
    submit.click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [e.value for e in at.error]
    with open_store(qc_data_dir) as s:
        ev = s.events()
        assert list(ev["kind"]) == ["upgrade"] and ev["note"].iloc[0] == "Mise à jour R5.1" and ev["created_by"].iloc[0] == "PH"
