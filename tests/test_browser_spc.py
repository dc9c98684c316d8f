"""Real browser (Playwright on Debian's chromium, real `streamlit run`): the control-chart toggle of History on the
demo database shows the daily output's I-MR chart with its signals in words, and the MR-to-MV Z step proposal
is dismissed (stored) from the page. Screenshots go to $QC_SCREENSHOTS when set."""

from __future__ import annotations

import os

import pytest

from conftest import copy_demo
from test_browser_e2e import ARGS, CHROMIUM, _choose, _require, _shot, _wait_idle, streamlit_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def spc_server(tmp_path_factory, demo_template):
    _require()
    data = copy_demo(demo_template, tmp_path_factory.mktemp("spc-e2e"))
    env = {**os.environ, "QC_DATA_DIR": str(data), "QC_NO_DEMO": "0"}
    with streamlit_server(env, timeout_s=60) as (url, _):
        yield {"url": url, "data": data}


@pytest.fixture
def page(spc_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = b.new_context(viewport={"width": 1400, "height": 1100})
        pg = context.new_page()
        pg.set_default_timeout(90000)
        yield pg
        b.close()


def _control_chart_of(page, url: str, test: str, metric: str) -> None:
    page.goto(url + "/history")
    page.locator(".st-key-operator input").fill("E2E")
    page.locator(".st-key-operator input").press("Enter")
    page.wait_for_timeout(1500)
    _choose(page, "hist_test", test)
    _choose(page, "hist_metric", metric)
    _wait_idle(page)
    page.locator(".st-key-hist_spc").get_by_text("Carte de contrôle (I-MR)").click()
    _wait_idle(page)
    page.get_by_text("Ligne centrale").first.wait_for()


def test_history_control_chart_of_the_demo_output(page, spc_server):
    _control_chart_of(page, spc_server["url"], "Débit (chambre)", "Écart à la référence")
    page.get_by_test_id("stVegaLiteChart").first.wait_for()
    page.get_by_text("CUSUM : petit décalage persistant de la moyenne").first.wait_for()
    page.get_by_text("Référence : les 20 premiers résultats").first.wait_for()
    page.wait_for_timeout(1500)  # the chart's canvas draws after the element appears
    _shot(page, "history_control_chart_output")
    page.get_by_text("Signaux (").first.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    _shot(page, "history_control_chart_output_signals")
    assert page.get_by_text("None").count() == 0


def test_history_step_proposal_dismissed_is_stored(page, spc_server):
    from qc.records.storage import Store

    _control_chart_of(page, spc_server["url"], "Alignement IRM–MV", "Translation Z")
    page.get_by_text("Une intervention a-t-elle eu lieu ?").first.wait_for()
    page.wait_for_timeout(1500)
    _shot(page, "history_control_chart_mrmv_step")
    page.get_by_role("button", name="Écarter la proposition").click()
    _wait_idle(page)
    page.wait_for_timeout(1500)
    _wait_idle(page)
    assert page.get_by_text("Une intervention a-t-elle eu lieu ?").count() == 0
    with Store(spc_server["data"]) as s:
        rows = list(s.db.query("select metric, created_by from spc_dismissals"))
    assert rows == [{"metric": "mrmv_z_mm", "created_by": "E2E"}]
