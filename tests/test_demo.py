"""The demo database: a month that looks like a real one (every MR and MR-Linac test and Winston-Lutz done at its
frequency in the last full month, some with a warning, one with a comment), built lazily on the app's first start
(logged history at once, image sessions in a background process that resumes), and truthful (the images of a
session regenerate byte for byte: same recipe, same sha256 as stored)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time

import pytest

from conftest import copy_demo

MONTHLY = ("wl", "mr-slice-thickness", "mr-geometry", "mr-resolution", "mr-acr", "mr-b0", "mr-b0-gantry", "mr-b1", "mr-geometry-3d")
WEEKLY_MR = ("mr-snr", "mr-uniformity", "mr-ghosting")


def last_month_bounds() -> tuple[str, str]:
    last = dt.date.today().replace(day=1) - dt.timedelta(days=1)
    return last.replace(day=1).isoformat(), (last + dt.timedelta(days=1)).isoformat()


@pytest.fixture
def demo(demo_template, qc_data_dir):
    from qc.records.storage import open_store

    copy_demo(demo_template, qc_data_dir)
    s = open_store(qc_data_dir)
    yield s
    s.close()


def test_last_full_month_has_every_mr_test_and_wl_done_at_its_frequency(demo):
    first, after = last_month_bounds()
    rows = list(demo.db.query("select test, status, comment from sessions where voided = 0 and acquired_at >= ? and acquired_at < ?",
                              [first, after]))
    count = {k: sum(r["test"] == k for r in rows) for k in MONTHLY + WEEKLY_MR}
    assert all(count[k] == 1 for k in MONTHLY), count
    assert all(count[k] >= 4 for k in WEEKLY_MR), count  # every Wednesday of the month
    mr = [r for r in rows if r["test"] in MONTHLY + WEEKLY_MR]
    assert any(r["status"] == "warning" for r in mr), "some with a warning"
    assert any(r["comment"] for r in mr), "one with a comment"


def test_monthly_report_of_last_month_shows_the_mr_tests_done(demo):
    from pypdf_text import pdf_text
    from qc.demo import DEMO_MACHINE
    from qc.registry import get_test
    from qc.reporting.report import monthly_report_pdf

    month = (dt.date.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    text = pdf_text(monthly_report_pdf(demo, demo.machine_by_name(DEMO_MACHINE)["id"], month, lang="fr"))
    summary = text.split("Résultats hors tolérance")[0]
    for key in MONTHLY + WEEKLY_MR:
        name = get_test(key, demo).name("fr")
        lines = [line for line in summary.splitlines() if name[:28] in line]
        assert lines, name
        assert not any("NON RÉALISÉ" in line for line in lines), (name, lines)


def test_images_of_a_demo_session_regenerate_byte_for_byte(demo):
    from qc.demo import _plan_path, regenerate_inputs

    # An older MVIC-Champ session (its files were not kept) and an MR session.
    field = [r["id"] for r in demo.db.query("select id from sessions where test = 'field' order by acquired_at")]
    kept = {r["session_id"] for r in demo.db.query("select session_id from files where stored_path != ''")}
    old = next(sid for sid in field if sid not in kept)
    snr = next(iter(demo.db.query("select id from sessions where test = 'mr-snr' limit 1")))["id"]
    for sid in (old, snr):
        files = regenerate_inputs(demo, sid)
        assert files and all(data[128:132] == b"DICM" for _, data in files)
    # A recipe that no longer matches what was stored is refused.
    plan_path = _plan_path(demo.data_dir)
    plan = json.loads(plan_path.read_text())
    for r in plan:
        if r["test"] == "mr-snr":
            r["args"]["seed"] += 1
    plan_path.write_text(json.dumps(plan))
    with pytest.raises(ValueError):
        regenerate_inputs(demo, snr)


def test_first_start_builds_the_logged_history_then_the_images_in_the_background(qc_data_dir):
    from qc.demo import _plan_path, build_demo, demo_complete, demo_progress, start_demo_completion
    from qc.records.storage import open_store

    build_demo(qc_data_dir, images="later")
    with open_store(qc_data_dir) as s:
        tests = {r["test"] for r in s.db.query("select distinct test from sessions")}
    assert "safety" in tests and "output" in tests and not tests & {"field", "piqt", "mr-snr"}
    done, total = demo_progress(qc_data_dir)
    assert done == 0 and total > 40
    # A short plan keeps the test cheap: the two newest flood sessions and a PIQT report, as the app would build them.
    plan = json.loads(_plan_path(qc_data_dir).read_text())
    short = [r for r in plan if r["test"] in ("mr-snr", "mr-uniformity")][:2] + [r for r in plan if r["test"] == "piqt"][:1]
    _plan_path(qc_data_dir).write_text(json.dumps(short))
    assert start_demo_completion(qc_data_dir)
    deadline = time.time() + 300
    while not demo_complete(qc_data_dir) and time.time() < deadline:
        time.sleep(0.5)
    assert demo_progress(qc_data_dir) == (3, 3)
    with open_store(qc_data_dir) as s:
        stored = [r["test"] for r in s.db.query("select test from sessions where test in ('mr-snr', 'mr-uniformity', 'piqt')")]
    assert sorted(stored) == sorted(r["test"] for r in short)
    assert not start_demo_completion(qc_data_dir), "nothing left to build"


def test_an_interrupted_image_build_resumes_where_it_stopped(qc_data_dir):
    from qc.demo import _plan_path, _progress_path, build_demo, complete_demo, demo_progress
    from qc.records.storage import open_store

    build_demo(qc_data_dir, images="later")
    plan = [r for r in json.loads(_plan_path(qc_data_dir).read_text()) if r["test"] == "mr-ghosting"][:3]
    _plan_path(qc_data_dir).write_text(json.dumps(plan))
    assert complete_demo(qc_data_dir, workers=1) == 3
    # As if killed after storing the 3rd session but before writing its progress: it is not stored twice.
    progress = json.loads(_progress_path(qc_data_dir).read_text())
    progress["done"] = 2
    _progress_path(qc_data_dir).write_text(json.dumps(progress))
    assert complete_demo(qc_data_dir, workers=1) == 0
    assert demo_progress(qc_data_dir) == (3, 3)
    with open_store(qc_data_dir) as s:
        assert s.db.execute("select count(*) from sessions where test = 'mr-ghosting'").fetchone()[0] == 3


def test_viewer_opens_an_older_demo_session_by_regenerating_its_images(demo_template, qc_data_dir):
    from streamlit.testing.v1 import AppTest

    from conftest import REPO

    copy_demo(demo_template, qc_data_dir)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    at.session_state["lang"] = "fr"
    at.run()
    at.switch_page("pages/viewer.py").run()
    box = at.selectbox(key="viewer_choice")
    label = next(o for o in box.options if "régénérée à l'ouverture" in o and "MVIC_" in o)
    box.select(label).run()
    assert not at.exception and not [e.value for e in at.error], [e.value for e in at.error]
    assert at.session_state["viewer_regenerated"][0] == int(label.split()[1])


def test_every_test_has_its_newest_session_before_the_older_history(demo_template, qc_data_dir):
    from qc.demo import _plan_path, _progress_path, demo_latest_in

    copy_demo(demo_template, qc_data_dir)
    plan = json.loads(_plan_path(qc_data_dir).read_text())
    newest = {}
    for i, r in enumerate(plan):
        if r["test"] not in newest or r["when"] > plan[newest[r["test"]]]["when"]:
            newest[r["test"]] = i
    ready = max(newest.values()) + 1
    assert ready < len(plan) // 2, "Home is complete early in the background build"
    progress = json.loads(_progress_path(qc_data_dir).read_text())
    for done, expected in ((ready - 1, False), (ready, True)):
        progress["done"] = done
        _progress_path(qc_data_dir).write_text(json.dumps(progress))
        assert demo_latest_in(qc_data_dir) is expected
