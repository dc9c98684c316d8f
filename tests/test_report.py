"""PDF reports: the demo month's report holds every session, every out-of-tolerance result, French accents;
sign-off and changes after it; the per-session report with its images."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time

import pytest

from pypdf_text import pdf_text
from qc.demo import DEMO_MACHINE
from qc.reporting.report import expected_sessions, month_bounds, monthly_report_pdf, session_report_pdf
from qc.records.storage import open_store


@pytest.fixture(scope="module")
def demo_dir(demo_template):
    return demo_template  # built once per test run (conftest); copied by demo_store


@pytest.fixture
def demo_store(demo_dir, qc_data_dir):
    shutil.copytree(demo_dir, qc_data_dir, dirs_exist_ok=True)
    s = open_store(qc_data_dir)
    yield s
    s.close()


def last_month() -> str:
    return (dt.date.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")


def test_monthly_report_lists_every_session_and_every_out_of_tolerance_result(demo_store):
    month = last_month()
    machine = demo_store.machine_by_name(DEMO_MACHINE)
    pdf = monthly_report_pdf(demo_store, machine["id"], month, lang="fr", generated_by="Dr Test")
    text = pdf_text(pdf)
    first, last = month_bounds(month)
    sessions = demo_store.sessions_frame(machine_id=machine["id"], date_from=first.isoformat(), date_to=last.isoformat())
    assert len(sessions) > 30
    assert f"{len(sessions)} séances enregistrées ce mois" in text
    listed = {int(x) for x in re.findall(r"#(\d+)", text)}
    assert set(sessions["id"]) <= listed, "every session of the month appears in its test's table"
    metrics = demo_store.metrics_frame(machine_id=machine["id"], date_from=first.isoformat(), date_to=last.isoformat())
    bad = metrics[metrics["status"].isin(["warning", "fail"])]
    assert len(bad) > 0
    out_section = text.split("Résultats hors tolérance")[1].split("Séances annulées")[0]
    for sid in bad["session_id"].unique():
        assert f"#{sid}" in out_section
    assert "Généré par : Dr Test" in text
    # A corrective action recorded later (History comment) is listed with the result.
    sid = int(bad["session_id"].iloc[0])
    demo_store.add_comment(sid, "Recalage effectué, contrôle refait conforme", "MB")
    text2 = pdf_text(monthly_report_pdf(demo_store, machine["id"], month, lang="fr"))
    assert "Recalage effectué" in re.sub(r"\s+", " ", text2.split("Résultats hors tolérance")[1].split("Séances annulées")[0])
    for word in ("Synthèse", "Hebdomadaire", "Sécurités quotidiennes", "Niveau hélium", "Écart", "°", "±"):
        assert word in text, word
    assert re.search(r"Page 1/\d+", text)


def test_report_in_english(demo_store):
    machine = demo_store.machine_by_name(DEMO_MACHINE)
    text = pdf_text(monthly_report_pdf(demo_store, machine["id"], last_month(), lang="en"))
    assert "Monthly quality-control report" in text and "Out-of-tolerance results" in text and "Daily safety checks" in text


def test_voided_sessions_are_listed_with_their_reason(demo_store):
    machine = demo_store.machine_by_name(DEMO_MACHINE)
    month = last_month()
    first, last = month_bounds(month)
    s = demo_store.sessions_frame(machine_id=machine["id"], date_from=first.isoformat(), date_to=last.isoformat(), test="couch")
    demo_store.void_session(int(s.iloc[0]["id"]), "lecture à la mauvaise marque", "MB")
    text = pdf_text(monthly_report_pdf(demo_store, machine["id"], month))
    voided = text.split("Séances annulées")[1]
    assert f"#{int(s.iloc[0]['id'])}" in voided and "lecture à la mauvaise marque" in voided


def test_signature_and_change_after_it_are_in_the_report(demo_store):
    machine = demo_store.machine_by_name(DEMO_MACHINE)
    month = last_month()
    text = pdf_text(monthly_report_pdf(demo_store, machine["id"], month))
    assert "Mois non signé" in text
    demo_store.sign_month(machine["id"], month, "Dr Martin", "Conforme sauf laser")
    text = pdf_text(monthly_report_pdf(demo_store, machine["id"], month))
    assert "Signé par Dr Martin" in text and "Conforme sauf laser" in text and "ATTENTION" not in text
    time.sleep(1.1)
    first, last = month_bounds(month)
    sid = int(demo_store.sessions_frame(machine_id=machine["id"], date_from=first.isoformat(), date_to=last.isoformat()).iloc[0]["id"])
    demo_store.void_session(sid, "doublon", "AG")
    text = pdf_text(monthly_report_pdf(demo_store, machine["id"], month))
    assert "modifiée(s) après la signature" in text and f"#{sid}" in text.split("ATTENTION")[1][:400]


def test_missed_tests_are_reported(qc_data_dir):
    with open_store(qc_data_dir) as s:
        mid = s.add_machine("Unity vide")
        text = pdf_text(monthly_report_pdf(s, mid, "2026-02"))
    assert "NON RÉALISÉ" in text
    assert expected_sessions("daily", *month_bounds("2026-02")) == 20
    assert expected_sessions("weekly", *month_bounds("2026-02")) == 4


def test_session_report_has_identifiers_and_images(demo_store):
    machine = demo_store.machine_by_name(DEMO_MACHINE)
    field = demo_store.sessions_frame(machine_id=machine["id"], test="field")
    if field.empty:
        pytest.skip("no MVIC-Champ session in the demo")
    sid = int(field.iloc[0]["id"])  # the latest: its images are kept
    s = demo_store.session(sid)
    pdf = session_report_pdf(demo_store, sid)
    text = pdf_text(pdf)
    assert f"séance n° {sid}" in text
    for f in s["files"]:
        assert f["sop_instance_uid"] in text and f["sha256"][:16] in text
    assert len(re.findall(rb"/Subtype\s*/Image", pdf)) >= 5  # one overlay per image of the session


def test_out_of_tolerance_table_prints_each_session_comment_once_and_names_who_generated(demo_store):
    """A session with a long comment and several metrics out of tolerance: the comment stands once, on the
    session's row, its metrics under it; the cover names the generator even when no operator is set."""
    month = last_month()
    machine = demo_store.machine_by_name(DEMO_MACHINE)
    first, last = month_bounds(month)
    metrics = demo_store.metrics_frame(machine_id=machine["id"], date_from=first.isoformat(), date_to=last.isoformat())
    bad = metrics[metrics["status"].isin(["warning", "fail"])]
    counts = bad.groupby("session_id").size()
    assert counts.max() >= 2, "the demo month needs a session with several results out of tolerance"
    sid = int(counts.idxmax())
    comment = "Faisceau recentré par le service Elekta zorglub, contrôle refait le lendemain, voir le cahier de bord"
    demo_store.db.execute("update sessions set comment = ? where id = ?", [comment, sid])
    demo_store.db.conn.commit()
    text = pdf_text(monthly_report_pdf(demo_store, machine["id"], month, lang="fr"))
    out_section = re.sub(r"\s+", " ", text.split("Résultats hors tolérance")[1].split("Séances annulées")[0])
    assert out_section.count("zorglub") == 1, "the session's comment is printed once, not on each of its metrics"
    assert out_section.count(f"#{sid} ") == 1
    assert "Généré par : application (aucun opérateur renseigné)" in text and "Généré par : —" not in text


def _series_frame() -> "pd.DataFrame":
    """Four results of one metric as `Store.metrics_frame` gives them: a tolerance band ±0.75 inside an action
    band ±1, a nominal, the third result out of tolerance (fail)."""
    import pandas as pd

    n = 4
    return pd.DataFrame({
        "session_id": range(1, n + 1), "acquired_at": pd.to_datetime(["2026-11-03 08:00", "2026-11-10 08:00", "2026-11-17 08:00", "2026-11-24 08:00"]),
        "value": [0.1, 0.3, 1.4, 0.2], "status": ["pass", "pass", "fail", "pass"], "operator": "AG", "comment": "", "metric": "size_dev_mm",
        "item": "", "unit": "mm", "nominal": 0.0, "act_low": -1.0, "tol_low": -0.75, "tol_high": 0.75, "act_high": 1.0})


def test_trend_chart_is_drawn_as_vectors_with_axes_band_and_marked_points():
    """The monthly report's charts are fpdf2 vectors (no picture to render): the value and date axes are text,
    the tolerance band is a translucent green fill, the result out of tolerance a red point."""
    from qc.reporting.pdf_chart import value_axis
    from qc.reporting.report import QCPdf

    pdf = QCPdf("test", "fr")
    pdf.compress = False
    pdf.add_page()
    pdf.chart_block("Écart de taille", _series_frame(), "mm")
    raw = bytes(pdf.output())
    text = pdf_text(raw)
    lo, hi, ticks = value_axis(-1.0, 1.4)
    assert (lo, hi) == (-1.0, 1.5) and len(ticks) == 6
    for label in ("Écart de taille", "Date", "mm", "-1,0", "0,5", "1,5", "09/11/26", "16/11/26", "23/11/26"):  # Mondays
        assert label in text, label
    assert not re.findall(rb"/Subtype\s*/Image", raw), "drawn, not a picture"
    assert b"0.7765 0.1569 0.1569 rg" in raw, "the failing result is a red point"
    assert b"0.4 0.7333 0.4157 rg" in raw and b"/ca 0.25" in raw, "the tolerance band is a translucent green fill"


def test_cli_monthly_report_draws_its_charts_without_a_chart_engine(demo_dir, qc_data_dir):
    """`python -m qc report` as a user runs it: charts drawn by fpdf2 (no Altair, no vl-convert loaded: 3 s of a
    7 s report before), « Généré par » names the command line's account."""
    import os
    import subprocess
    import sys

    shutil.copytree(demo_dir, qc_data_dir, dirs_exist_ok=True)
    out = qc_data_dir / "r.pdf"
    probe = ("import sys; from qc.cli import main; main(sys.argv[1:]); "
             "print('loaded:', sorted(m for m in ('altair', 'vl_convert') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", probe, "report", "--machine", DEMO_MACHINE, "--month", last_month(), "-o", str(out)],
                         env={**os.environ, "QC_DATA_DIR": str(qc_data_dir), "QC_NO_DEMO": "1", "USER": "mbernard"},
                         capture_output=True, text=True, check=True)
    assert "loaded: []" in run.stdout
    pdf = out.read_bytes()
    assert not re.findall(rb"/Subtype\s*/Image", pdf)
    text = pdf_text(pdf)
    assert "Généré par : ligne de commande (mbernard)" in " ".join(text.split())
    assert "Cartes de contrôle du mois" in text


def test_month_states_skips_only_what_its_table_does_not_print(demo_store):
    """The control-chart table analyses each series without the step proposal and the trend (no regression
    needed): its signals, limits, Cpk and verdicts are those of the full analysis of the same series."""
    from qc.reporting.spc import analyse_frame

    machine = demo_store.machine_by_name(DEMO_MACHINE)
    history = demo_store.metrics_frame(machine_id=machine["id"])
    events = demo_store.events(machine["id"])
    compared = 0
    for (test, metric, item), g in history.groupby(["test", "metric", "item"], sort=False):
        full, table = analyse_frame(g, events), analyse_frame(g, events, outlook=False)
        assert (full.signals, full.limits, full.cpk, full.flags, full.statuses) == (table.signals, table.limits, table.cpk, table.flags, table.statuses)
        assert table.step is None and table.trend is None
        compared += full.limits is not None
    assert compared >= 10


def test_no_table_heading_is_left_alone_at_the_foot_of_a_page(demo_store):
    """« Valeurs du mois » and its table's heading are kept with the table's first session row (5–7 lines high): a
    heading alone at the foot of a page, its rows on the next, read as an empty table (demo month, page 5)."""
    machine = demo_store.machine_by_name(DEMO_MACHINE)
    pages = pdf_text(monthly_report_pdf(demo_store, machine["id"], last_month(), lang="fr")).split("\f")
    alone = [i + 1 for i, page in enumerate(pages) if "Valeurs du mois" in page
             and not re.search(r"#\d+", page.rsplit("Valeurs du mois", 1)[1])]
    assert alone == [], f"pages ending on a heading without its rows: {alone}"
