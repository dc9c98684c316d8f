"""Real-browser checks of issue #28 (« What the physicist sees first »), Playwright on Debian's chromium against a
real `streamlit run` (the fixtures of test_browser_e2e): the MR image page opens on the ACR verdict of a real ACR
set, a session opens from Historique by a click, the B0 maps are drawn whole. Screenshots with QC_SCREENSHOTS."""

from __future__ import annotations

import re

import pytest

from conftest import shared_file
from test_browser_e2e import _choose, _shot, _wait_idle, browser, page, server  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", autouse=True)
def warmed(server):
    """Warm the fresh server as qc.launcher does for run.bat (else the first direct link shows Streamlit's
    « Page not found » dialog over the page, see test_bookmark_on_a_freshly_started_server...)."""
    from qc import launcher

    assert launcher.wait_and_open(server["url"], timeout_s=30, browser=False)


def test_mr_image_page_opens_on_the_acr_verdict_of_a_real_acr_set(page, server):
    """Upload the Siemens ACR set (hazen's, 11 slices): with no click, the session's verdict and the ACR
    measure's verdict are in the first screen, the ACR tab is the open one and shows its own verdict; the
    measures that do not apply (the generic ones: the ACR analysis judges an ACR set) are one folded line saying
    why; a measure's warnings are folded behind their count."""
    files = sorted(shared_file("hazen", "acr", "Siemens").glob("*.dcm"))
    page.goto(server["url"] + "/mr-image")
    page.get_by_test_id("stFileUploaderDropzoneInput").wait_for(state="attached")
    _wait_idle(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files([str(p) for p in files])
    summary = page.locator(".st-key-verdict_summary")
    summary.get_by_text("Verdict de la séance").wait_for(timeout=180000)
    _wait_idle(page)
    page.evaluate("window.scrollTo(0, 0)")
    box = summary.bounding_box()
    assert box is not None and box["y"] < 1000, box  # in the first screen (1 400 × 1 000), no scrolling
    lines = summary.get_by_test_id("stMarkdownContainer").filter(has_text="Par mesure").inner_text()
    acr_line = next(x for x in lines.splitlines() if "fantôme ACR" in x)
    assert re.search(r"Conforme|Non conforme|Alerte", acr_line), acr_line
    # the ACR analysis alone judges an ACR set: the generic measures are not run and say why (folded)
    assert "rapport signal sur bruit" not in lines and "uniformité" not in lines, lines
    open_tab = page.get_by_role("tab", selected=True)
    assert "fantôme ACR" in open_tab.inner_text()
    panel = page.get_by_role("tabpanel").filter(visible=True)
    assert panel.get_by_test_id("stAlert").filter(has_text="Résultat global").first.is_visible()
    assert summary.get_by_test_id("stExpander").filter(has_text="Ne s'applique pas à ces images").is_visible()
    # no « ne s'applique pas » box and no warning box above the tabs
    above = page.evaluate("""() => {
        const tabs = document.querySelector('[data-testid="stTabs"]').getBoundingClientRect().top;
        return Array.from(document.querySelectorAll('[data-testid="stAlert"]'))
            .filter(a => a.getBoundingClientRect().top < tabs && a.getBoundingClientRect().height > 0).map(a => a.innerText);
    }""")
    assert [a for a in above if "Verdict de la séance" not in a and "DÉMONSTRATION" not in a] == [], above
    _shot(page, "mr_image_acr_verdict_first")
    folded = panel.get_by_test_id("stExpander").filter(has_text="avertissements")
    if folded.count():  # several warnings are folded behind their count
        assert not folded.first.get_by_test_id("stAlert").first.is_visible()
    assert page.get_by_role("tab").count() == 1  # the generic measures have no tab of their own on an ACR set
    why = summary.get_by_test_id("stExpander").filter(has_text="Ne s'applique pas à ces images")
    why.locator("summary").click()
    why.get_by_text("Série du fantôme ACR").first.wait_for()
    _shot(page, "mr_image_acr_not_applicable")


def test_a_session_opens_from_history_by_a_click(page, server):
    page.goto(server["url"] + "/history")
    page.get_by_role("heading", name="Historique").first.wait_for()
    _choose(page, "hist_test", "MVIC-Champ")
    first = page.get_by_role("option").first
    for _ in range(10):  # a rerun landing while the list is open closes it (as in _choose): open it again
        _wait_idle(page)
        page.locator(".st-key-hist_pick").click()
        try:
            first.wait_for(timeout=3000)
            break
        except Exception:  # noqa: BLE001 - playwright's TimeoutError
            pass
    label = first.inner_text()
    session = int(re.search(r"Séance n° (\d+)", label).group(1))
    first.click()
    heading = page.locator(".st-key-hist_picked_session").get_by_role("heading", name=f"Séance n° {session}")
    heading.wait_for()
    assert heading.is_visible()
    assert f"session={session}" in page.url
    _shot(page, "history_session_opened_by_list")


def test_b0_demo_maps_show_whole_titles(page, server):
    page.goto(server["url"] + "/mr-b0")
    page.get_by_role("heading", name="B0").first.wait_for()
    _wait_idle(page)
    page.locator(".st-key-mr_b0_demo button").click()
    page.get_by_text("Résultat global").first.wait_for(timeout=180000)
    maps = page.get_by_test_id("stImage")
    maps.nth(2).wait_for()
    _wait_idle(page)
    assert maps.count() == 3
    for k in range(3):  # drawn whole: the browser shows the picture the analyser made, not a broken one
        assert maps.nth(k).locator("img").evaluate("img => img.complete && img.naturalWidth") == 512
    maps.first.scroll_into_view_if_needed()
    _shot(page, "mr_b0_demo_maps")


def test_mr_linac_study_page_opens_on_the_session_verdict(page, server):
    """The MR-Linac study demo (B0, gantry, B1, 3-D geometry): the session's verdict and each test's verdict come
    before the routing table, in the first screen; the sections follow, the worst first."""
    page.goto(server["url"] + "/mr-linac")
    page.get_by_role("heading", name="IRM MR-Linac").first.wait_for()
    _wait_idle(page)
    page.locator(".st-key-mr_linac_demo button").click()
    summary = page.locator(".st-key-verdict_summary")
    summary.get_by_text("Verdict de la séance").wait_for(timeout=300000)
    _wait_idle(page)
    box = summary.bounding_box()
    assert box is not None and box["y"] < 1000, box
    routed = page.get_by_role("heading", name="Séries reconnues")
    assert routed.bounding_box()["y"] > box["y"]
    text = summary.inner_text()
    for name in ("homogénéité B0", "B0 et angle du bras", "B1", "géométrie 3D"):
        assert name in text, text
    _shot(page, "mr_linac_verdict_first")
