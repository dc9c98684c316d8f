"""A per-user limit on analyses running at once (issue 18): one person cannot starve the server."""

from __future__ import annotations

import threading

import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO
from pages_nav import open_page
from qc import slots
from qc.errors import QCInputError


def test_third_analysis_of_a_user_is_refused_others_are_not():
    started, release = threading.Barrier(3), threading.Event()

    def hold():
        with slots.analysis_slot("op"):
            started.wait()
            release.wait(10)

    threads = [threading.Thread(target=hold) for _ in range(slots.MAX_ANALYSES_PER_USER)]
    [t.start() for t in threads]
    started.wait()
    try:
        assert slots.running("op") == slots.MAX_ANALYSES_PER_USER
        with pytest.raises(QCInputError) as exc:
            with slots.analysis_slot("op"):
                pass
        assert exc.value.key == "err.busy" and "en cours" in exc.value.message("fr")
        with slots.analysis_slot("adm"):  # another user is not affected
            assert slots.running("adm") == 1
    finally:
        release.set()
        [t.join() for t in threads]
    assert slots.running("op") == 0
    with slots.analysis_slot("op"):
        pass


def test_slot_given_back_when_the_analysis_fails():
    with pytest.raises(ValueError):
        with slots.analysis_slot("op"):
            raise ValueError("analyser bug")
    assert slots.running("op") == 0


def test_page_says_wait_when_the_user_has_no_free_slot(qc_data_dir):
    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        mid = s.add_machine("Unity T", "UNITY-DEMO", "DEMO-0001")
        s.add_calibration(mid, 511.03, 652.75, "2000-01-01")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    at.session_state["operator"] = "AG"
    at.run()
    open_page(at, "field").run()
    holders = [slots.analysis_slot("AG") for _ in range(slots.MAX_ANALYSES_PER_USER)]
    for h in holders:
        h.__enter__()
    try:
        at.button(key="field_demo").click().run()
    finally:
        for h in holders:
            h.__exit__(None, None, None)
    assert not at.exception
    assert any("en cours" in e.value and "Attendez" in e.value for e in at.error), [e.value for e in at.error]
    at.run()  # slots free again: the analysis runs
    assert not other_errors(at)


def other_errors(at) -> list[str]:
    """Error boxes other than the verdict itself (a demo session without a baseline reads Non conforme)."""
    return [e.value for e in at.error if "Résultat global" not in e.value]
