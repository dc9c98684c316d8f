"""Real browser (Playwright on Debian's chromium, a real `streamlit run`): sign a session from History's session
detail and see the signature; Home lists what waits for a signature. A screenshot goes to $QC_SCREENSHOTS when set."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from test_browser_e2e import ARGS, CHROMIUM, _require, _shot, _wait_idle, streamlit_server

pytestmark = pytest.mark.browser


def small_database(folder) -> tuple[int, int]:
    """One machine, two helium readings (one out of tolerance), one note on its measurement."""
    from qc import pipeline
    from qc.records import signatures
    from qc.records.storage import open_store
    from qc.registry import get_test

    with open_store(folder) as s:
        m = s.machine(s.add_machine("Unity A"))
        ids = []
        for i, level in enumerate(("60", "81")):
            a = pipeline.record_logged(s, get_test("helium", s), m, {"helium_level_pct": level},
                                       acquired_at=dt.datetime.now().replace(microsecond=0) - dt.timedelta(days=8 - 7 * i))
            ids.append(pipeline.store_analysis(s, a, operator="AG", comment="niveau relevé sur la console"))
        signatures.add_leaf_comment(s, ids[0], "helium_level_pct", "", "Relu sur l'écran de service : 60 % confirmé.", "M. Bernard")
    return ids[0], ids[1]


def test_sign_a_session_in_the_browser(tmp_path):
    _require()
    from playwright.sync_api import sync_playwright

    data = tmp_path / "data"
    failing, passing = small_database(data)
    env = {**os.environ, "QC_DATA_DIR": str(data), "QC_NO_DEMO": "1"}
    env.pop("QC_AUTH", None)
    with streamlit_server(env, timeout_s=60) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.set_default_timeout(60000)
        page.goto(url + "/")
        page.get_by_text("2 résultat(s) attendent une signature").wait_for()
        page.goto(url + f"/history?session={failing}")  # a new browser session: the operator is typed here
        page.get_by_text(f"Séance n° {failing}").first.wait_for()
        _wait_idle(page)
        page.locator(".st-key-operator input").fill("Dr C. Lefèvre")
        page.locator(".st-key-operator input").press("Enter")
        page.wait_for_timeout(1500)
        page.get_by_text("À signer").first.wait_for()
        _wait_idle(page)
        page.locator(f".st-key-sig_kind_{failing}").get_by_text("Approuvé").click()
        page.locator(f".st-key-sig_comment_{failing} input").fill("Remplissage d'hélium demandé au constructeur.")
        page.get_by_role("button", name="Signer").click()
        signed = page.get_by_test_id("stAlert").filter(has_text="Approuvé par Dr C. Lefèvre le")
        signed.wait_for()
        assert "(non vérifiée par mot de passe)" in signed.inner_text()
        page.get_by_text("Remplissage d'hélium demandé au constructeur.").wait_for()
        page.get_by_text("Relu sur l'écran de service : 60 % confirmé.").wait_for()
        _wait_idle(page)
        _shot(page, "session_signed")
        page.goto(url + "/")
        page.get_by_text("1 résultat(s) attendent une signature").wait_for()
        _shot(page, "home_waiting")
        browser.close()
