"""Real browser: a logged-test form with three bad fields shows the three messages at once.

Playwright drives Debian's chromium against a real `streamlit run` on an empty database with one
machine (no demo). Skipped like tests/test_browser_e2e.py when chromium or playwright is missing,
except in CI (QC_REQUIRE_BROWSER=1).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO
from test_browser_e2e import ARGS, CHROMIUM, _require, _wait_idle, streamlit_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory):
    _require()
    data = tmp_path_factory.mktemp("forms-data")
    env = {**os.environ, "QC_DATA_DIR": str(data), "QC_NO_DEMO": "1", "QC_BACKUP_INTERVAL_HOURS": "0"}
    env.pop("QC_AUTH", None)
    subprocess.run([sys.executable, "-m", "qc", "add-machine", "Unity A"], cwd=REPO, env=env, check=True, capture_output=True)
    with streamlit_server(env) as (url, _health_s):
        yield url


def test_three_bad_fields_show_three_messages_at_once(empty_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
            page.set_default_timeout(90000)
            # Through the menu (a first direct link to a logged-test page meets Streamlit's "page not found", docs/server.md).
            page.goto(empty_server)
            page.get_by_test_id("stSidebar").get_by_role("link", name="QUASAR").click()
            page.get_by_role("heading", name="QUASAR").first.wait_for()
            # The gating verdict (radio) is left empty; latency −20 ms is impossible; Z = 1e9 is not a number.
            for key, value in (("quasar_dx_mm", "0,1"), ("quasar_dy_mm", "0"), ("gating_latency_ms", "-20"), ("quasar_dz_mm", "1e9")):
                field = page.locator(f".st-key-log_quasar_{key} input")
                field.fill(value)
                field.press("Enter")
                page.wait_for_timeout(700)
            _wait_idle(page)
            errors = page.get_by_test_id("stAlert").filter(has_text="«")
            page.wait_for_function(
                "() => document.querySelectorAll('[data-testid=\"stAlertContentError\"]').length >= 3", timeout=60000)
            texts = [t for t in errors.all_inner_texts() if t.strip()]
            shots = os.environ.get("QC_SCREENSHOTS")
            if shots:
                page.screenshot(path=os.path.join(shots, "form_three_errors.png"), full_page=True)
            assert len(texts) == 3, texts
            assert "obligatoire" in texts[0] and "Latence du gating conforme" in texts[0]
            assert "Latence mesurée" in texts[1] and "-20" in texts[1]
            assert "Écart Z" in texts[2] and "1e9" in texts[2]
        finally:
            browser.close()
