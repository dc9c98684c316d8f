"""Real-browser end-to-end tests: Playwright drives Debian's chromium against a real `streamlit run`.

Main path: upload (or demo) on a test page → result → stored → found in History (trend) → monthly PDF.
Skipped with a reason when chromium or playwright is missing, except in CI (QC_REQUIRE_BROWSER=1).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO, copy_demo

pytestmark = pytest.mark.browser
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def _require():
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append("Debian chromium (/usr/bin/chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install -r requirements-dev.txt)")
    if missing:
        if os.environ.get("QC_REQUIRE_BROWSER") == "1":
            pytest.fail("browser tests required but missing: " + ", ".join(missing))
        pytest.skip("browser tests need " + ", ".join(missing))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(env: dict, timeout_s: float = 60.0):
    """A real `streamlit run app.py` on a free loopback port with `env`; yields (url, seconds to health), then stops it."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as r:
                if r.read() == b"ok":
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() - started > timeout_s:
            proc.kill()
            raise RuntimeError("streamlit did not start: " + proc.stdout.read().decode(errors="replace")[-2000:])
        time.sleep(0.2)
    try:
        yield url, time.monotonic() - started
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_template):
    """A real Streamlit server on loopback with (a copy of) the demo database, stopped after the module."""
    _require()
    data = copy_demo(demo_template, tmp_path_factory.mktemp("e2e-data"))
    env = {**os.environ, "QC_DATA_DIR": str(data), "QC_NO_DEMO": "0"}
    with streamlit_server(env, timeout_s=30) as (url, health_s):
        yield {"url": url, "data": data, "health_s": health_s}


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(60000)
    yield pg
    shots = os.environ.get("QC_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
    context.close()


def _wait_idle(pg):
    pg.wait_for_selector('[data-testid="stMain"]')
    # Streamlit shows a running indicator while a script runs.
    pg.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60000)


def _choose(pg, key: str, option: str) -> None:
    """Pick `option` in the selectbox `key`, once the page has finished running (a rerun that lands while the list
    is open closes it: the list is opened again, up to ten times; the list is drawn by the browser, without a
    round trip to the server, so 3 s per try is ample and a closed list costs 3 s instead of 10)."""
    _wait_idle(pg)
    choice = pg.get_by_role("option", name=option)
    for _ in range(10):
        pg.locator(f".st-key-{key}").click()
        try:
            choice.wait_for(timeout=3000)
            break
        except Exception:  # noqa: BLE001 - playwright's TimeoutError: the list closed before it showed
            _wait_idle(pg)
    choice.click()


def _shot(pg, name: str) -> None:
    folder = os.environ.get("QC_SCREENSHOTS")
    if folder:
        pg.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_direct_link_to_a_test_page_opens_inside_the_app(page, server):
    """First visit of a fresh server straight to /field: the page must come with the app's frame."""
    page.goto(server["url"] + "/field")
    page.get_by_role("heading", name="MVIC-Champ").first.wait_for()
    nav = page.get_by_test_id("stSidebar")
    nav.get_by_text("Accueil").wait_for()
    assert nav.get_by_text("common", exact=True).count() == 0
    assert page.get_by_test_id("stAlert").filter(has_text="DÉMONSTRATION").count() == 1


UPLOADER_TEXTS = """() => Array.from(document.querySelectorAll('[data-testid="stFileUploaderDropzone"]')).map(zone => {
    const p = zone.querySelector('button [data-testid="stMarkdownContainer"] p');
    const span = zone.querySelector('[data-testid="stFileUploaderDropzoneInstructions"] span');
    return {button: getComputedStyle(p, '::after').content, buttonHiddenSize: getComputedStyle(p).fontSize,
            limits: getComputedStyle(span, '::after').content, limitsHiddenSize: getComputedStyle(span).fontSize};
})"""


@pytest.mark.parametrize("path", ["field", "mr-image", "mr-b0"])
def test_uploaders_speak_french_and_state_the_real_limits(page, server, path):
    """Streamlit's own « Upload » and « 200MB per file » are hidden; the French words and the app's real limits
    (64 Mo per image, the server's 200 Mo per file, 256 Mo unpacked per upload) are drawn in their place."""
    page.goto(server["url"] + "/" + path)
    page.get_by_test_id("stFileUploaderDropzone").first.wait_for()
    _wait_idle(page)
    texts = page.evaluate(UPLOADER_TEXTS)
    assert texts
    for x in texts:
        assert x["button"] == '"Choisir des fichiers"' and x["buttonHiddenSize"] == "0px"
        assert "64 Mo par image" in x["limits"] and "200 Mo par fichier" in x["limits"] and "256 Mo" in x["limits"]
        assert x["limitsHiddenSize"] == "0px"
    _shot(page, f"uploader_{path}")


def test_field_demo_images_result_saved_and_in_history(page, server):
    page.goto(server["url"] + "/field")
    page.locator(".st-key-operator input").fill("E2E")
    page.locator(".st-key-operator input").press("Enter")
    page.wait_for_timeout(1500)  # let the rerun that commits the operator name finish
    page.locator(".st-key-field_demo button").click()
    page.get_by_text("Résultat global").wait_for()
    page.get_by_test_id("stImage").first.wait_for()
    _shot(page, "field_result")
    page.locator(".st-key-field_save button").click()
    stored = page.get_by_test_id("stAlert").filter(has_text="séance n°")
    stored.wait_for()
    session = int(stored.inner_text().split("n°")[1].strip().split(".")[0])
    page.get_by_text("Voir dans l'historique").click()
    page.get_by_text(f"Séance n° {session}").first.wait_for()
    page.get_by_text("MVIC-Champ").first.wait_for()


def test_menu_groups_the_mr_tests_under_their_study_pages(page, server):
    """Daily and weekly tests first; the 11 MR tests folded under « Qualité image IRM » and « IRM MR-Linac », the
    fold of the current test open; each still reachable by its link."""
    page.goto(server["url"] + "/mr-b1")
    page.get_by_role("heading", name="B1").first.wait_for()
    side = page.get_by_test_id("stSidebar")
    captions = side.get_by_test_id("stCaptionContainer").all_inner_texts()
    assert captions[:4] == ["MR-Linac QC", "Tests quotidiens et hebdomadaires", "Tests mensuels et plus espacés", "IRM"], captions
    folds = side.get_by_test_id("stExpander")
    assert folds.count() == 2
    open_fold = folds.filter(has_text="4 tests")
    open_fold.get_by_role("link", name="B1 (double angle)").wait_for()
    assert open_fold.get_by_role("link", name="Géométrie 3D").is_visible()
    assert not folds.filter(has_text="7 tests").get_by_role("link", name="Uniformité").is_visible()  # closed fold
    links = [text.split("\n")[-1] for text in side.get_by_role("link").all_inner_texts()]  # icon name, then the title
    assert links.index("Sécurités quotidiennes") < links.index("MVIC-Champ") < links.index("Winston-Lutz")
    _shot(page, "menu")


def test_health_answers_quickly(server):
    assert server["health_s"] < 10


def test_home_shows_demo_and_schedule(page, server):
    page.goto(server["url"])
    page.get_by_text("Tableau de bord QC").wait_for()
    page.get_by_text("Échéancier").wait_for()
    assert page.get_by_test_id("stAlert").filter(has_text="DÉMONSTRATION").count() == 1
    _shot(page, "home")


def test_demo_report_upload_result_store_history_and_pdf(page, server):
    from qc.synthetic.piqt import demo_report
    import datetime as dt

    report = Path(server["data"]) / "PIQT_e2e.htm"
    report.write_bytes(demo_report(dt.datetime(2026, 11, 20, 7, 45), seed=4242))
    page.goto(server["url"] + "/piqt")
    page.get_by_role("heading", name="PIQT").first.wait_for()
    page.locator(".st-key-operator input").fill("E2E")
    page.locator(".st-key-operator input").press("Enter")
    page.wait_for_timeout(1500)  # let the rerun that commits the operator name finish
    page.get_by_test_id("stFileUploaderDropzoneInput").wait_for(state="attached")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(report))
    page.get_by_text("Résultat global").wait_for()
    _shot(page, "piqt_result")
    page.locator(".st-key-piqt_save button").click()
    stored = page.get_by_test_id("stAlert").filter(has_text="séance n°")
    stored.wait_for()
    session = int(stored.inner_text().split("n°")[1].strip().split(".")[0])
    page.get_by_text("Voir dans l'historique").click()
    page.get_by_text(f"Séance n° {session}").first.wait_for()
    _shot(page, "history_session")
    # The trend of the test shows the stored point's session in the table.
    page.goto(server["url"] + "/history")
    _choose(page, "hist_test", "PIQT")
    page.get_by_test_id("stVegaLiteChart").first.wait_for()
    _shot(page, "history_piqt")
    # Reports: the monthly PDF downloads.
    page.goto(server["url"] + "/reports")
    _choose(page, "rep_month", dt.date.today().strftime("%Y-%m"))
    page.locator(".st-key-rep_generate button").click()
    with page.expect_download() as dl:
        page.locator(".st-key-rep_download button").click()
    pdf = Path(dl.value.path()).read_bytes()
    assert pdf[:5] == b"%PDF-"
    from pypdf_text import pdf_text

    assert "PIQT" in pdf_text(pdf)


def test_a_wrong_file_shows_an_error_box_and_the_app_keeps_working(page, server, tmp_path):
    bad = tmp_path / "notes.htm"
    bad.write_text("<html><body><p>pas un rapport</p></body></html>")
    page.goto(server["url"] + "/piqt")
    page.get_by_test_id("stFileUploaderDropzoneInput").wait_for(state="attached")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(bad))
    page.get_by_test_id("stAlert").filter(has_text="notes.htm").wait_for()
    _shot(page, "piqt_error")
    page.get_by_test_id("stSidebar").get_by_role("link", name="Historique").click()
    page.get_by_role("heading", name="Historique").wait_for()


@pytest.mark.parametrize("auth", ["off", "password"])
def test_bookmark_on_a_freshly_started_server_opens_without_page_not_found(browser, tmp_path, auth):
    """A fresh server warmed by qc.launcher (as run.bat and the systemd unit do) opens a bookmarked page without
    Streamlit's "Page not found" dialog, also behind the login (the pages are registered before it stops)."""
    from qc import launcher

    env = {**os.environ, "QC_DATA_DIR": str(tmp_path / "data"), "QC_NO_DEMO": "1", "QC_AUTH": auth}
    with streamlit_server(env, timeout_s=60) as (url, _):
        assert launcher.wait_and_open(url, timeout_s=30, browser=False)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = context.new_page()
        pg.set_default_timeout(60000)
        pg.goto(url + "/field")
        if auth == "off":
            pg.get_by_role("heading", name="MVIC-Champ").first.wait_for()
        else:
            pg.get_by_role("button", name="Se connecter").wait_for()
        pg.wait_for_timeout(2500)  # the dialog, when it comes, comes with the first page
        assert pg.get_by_text("Page not found").count() == 0
        context.close()
