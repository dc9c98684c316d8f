"""The user guide's pictures (docs/guide/images/*.png), taken by a real browser on the demo so they stay current.

Playwright on Debian's chromium against a real `streamlit run` on a copy of the demo database (the fixtures of
test_browser_e2e). For every test of the registry, the latest stored demo session of that test is opened (History,
`?session=ID`: the verdict, the metrics with their tolerances, the pictures stored with it) and the test asserts what
the guide describes before it writes the picture: the session's title with the test's French name, its verdict
word, the metrics table, the stored pictures when the session has some, no error box. Then Home, History, the
review queue (with one session received over the inbox) and the guide's own dialog on a test page.

Each run writes the pictures into docs/guide/images/ (committed): 1 400 px wide, cut to the part the guide talks
about (at most MAX_HEIGHT_PX), reduced to a 256-colour palette so that each stays under MAX_BYTES.
"""

from __future__ import annotations

import datetime as dt
import io
import sqlite3

import pytest

from conftest import REPO
from test_browser_e2e import _shot, _wait_idle, browser, page, server  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

IMAGES = REPO / "docs" / "guide" / "images"
MAX_HEIGHT_PX = 2200
MAX_BYTES = 450_000
STATUS_FR = {"pass": "Conforme", "warning": "Alerte", "fail": "Non conforme", "none": "Sans tolérance", "not_measured": "Non mesuré"}


@pytest.fixture(scope="module", autouse=True)
def warmed(server):
    """Warm the fresh server as qc.launcher does (else the first direct link may show « Page not found »)."""
    from qc import launcher

    assert launcher.wait_and_open(server["url"], timeout_s=30, browser=False)


NOT_FOUND = "Page not found"


def open_page(pg, url: str) -> None:
    """Go to `url` and let the page run. A new browser session on a busy server may run the main page first and
    show Streamlit's « Page not found » dialog over it (see test_browser_verdict's `warmed`): the page is loaded
    again, at most three times, so that the picture never shows the dialog."""
    for _ in range(3):
        pg.goto(url)
        _wait_idle(pg)
        pg.wait_for_timeout(500)
        if pg.get_by_role("dialog").filter(has_text=NOT_FOUND).count() == 0:
            return
    raise AssertionError(f"{url}: Streamlit kept answering « {NOT_FOUND} »")


def settled(pg) -> None:
    """The page has finished running and nothing on it is greyed out as stale, and no dialog covers it."""
    _wait_idle(pg)
    pg.wait_for_function("() => document.querySelectorAll('[data-stale=\"true\"]').length === 0", timeout=60000)
    assert pg.get_by_role("dialog").count() == 0, pg.get_by_role("dialog").all_inner_texts()


def save_picture(pg, name: str, bottom_selector: str | None = None) -> bytes:
    """Screenshot of the page down to the bottom of `bottom_selector` (else the whole page), at most MAX_HEIGHT_PX
    high, as a palette PNG in docs/guide/images/<name>.png; returns the PNG bytes."""
    from PIL import Image

    height = pg.evaluate("""() => {
        const block = document.querySelector('[data-testid="stMainBlockContainer"]');
        return block.getBoundingClientRect().top + block.scrollHeight;
    }""")
    if bottom_selector:
        box = pg.locator(bottom_selector).first.bounding_box()
        if box is not None:
            height = box["y"] + box["height"] + 24
    height = max(600, min(int(height), MAX_HEIGHT_PX))
    # Streamlit scrolls inside its own container: a taller window shows the whole part at once.
    pg.set_viewport_size({"width": 1400, "height": height})
    pg.wait_for_timeout(800)
    settled(pg)
    raw = pg.screenshot()
    img = Image.open(io.BytesIO(raw)).convert("RGB")
    out = io.BytesIO()
    img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, format="PNG", optimize=True)
    data = out.getvalue()
    IMAGES.mkdir(parents=True, exist_ok=True)
    (IMAGES / f"{name}.png").write_bytes(data)
    assert len(data) <= MAX_BYTES, (name, len(data))
    return data


# The guide's « what to do when it fails » reads better beside a failing session: the demo's error week of the leaf
# test (the AQUA error plan delivered on purpose: displaced blocks of leaves on the heat map), which the demo voids
# with its reason, as a physicist would.
SHOW_STATUS = {"leaves": "fail"}


def latest_session(data_dir, test: str, status: str | None = None) -> tuple[int, str, int, int]:
    """(id, status, number of stored overlays, number of stored charts) of the latest stored, confirmed, not voided
    session of `test`; given a `status`, the latest of that status, voided or not."""
    con = sqlite3.connect(data_dir / "qc.sqlite")
    try:
        row = con.execute(
            "SELECT id, status FROM sessions WHERE test = ? AND (voided = 0 OR ? IS NOT NULL) AND review_state IN ('', 'confirmed') "
            "AND (? IS NULL OR status = ?) ORDER BY acquired_at DESC, id DESC LIMIT 1", (test, status, status, status)).fetchone()
        assert row is not None, f"the demo database has no session of {test}" + (f" with status {status}" if status else "")
        kinds = dict(con.execute("SELECT kind, count(*) FROM session_pictures WHERE session_id = ? GROUP BY kind", (row[0],)).fetchall())
    finally:
        con.close()
    return int(row[0]), str(row[1]), int(kinds.get("overlay", 0)), int(kinds.get("chart", 0))


def _no_error(pg, allowed: str | None = None) -> None:
    """No traceback and no red box on the page (but the one that says `allowed`, e.g. a voided session's banner)."""
    assert pg.get_by_test_id("stException").count() == 0
    errors = [e for e in pg.get_by_test_id("stAlertContentError").all_inner_texts() if not (allowed and allowed in e)]
    assert errors == [], errors


def _tests():
    from qc.registry import builtin_tests

    return [(spec.key, spec.name_fr) for spec in builtin_tests()]


@pytest.mark.parametrize(("key", "name"), _tests(), ids=[k for k, _ in _tests()])
def test_picture_of_each_test_shows_its_verdict(page, server, key, name):
    sid, status, n_overlays, n_charts = latest_session(server["data"], key, SHOW_STATUS.get(key))
    open_page(page, f"{server['url']}/history?session={sid}")
    page.get_by_text(f"Séance n° {sid} — {name}").first.wait_for(timeout=90000)
    _wait_idle(page)
    info = page.get_by_test_id("stMarkdownContainer").filter(has_text="résultat :").first.inner_text()
    assert f"résultat : {STATUS_FR[status]}" in info.replace("\n", " ") or STATUS_FR[status] in info, info
    page.get_by_test_id("stDataFrame").first.wait_for(timeout=60000)  # drawn after the verdict line (failed once at once)
    if n_overlays:  # the annotated images stored with the session, every one loaded
        page.get_by_test_id("stImage").first.wait_for()
        page.wait_for_function("() => Array.from(document.querySelectorAll('[data-testid=\"stImage\"] img')).every(i => i.complete && i.naturalWidth > 0)")
    if n_charts:
        page.get_by_test_id("stVegaLiteChart").first.wait_for()
    _no_error(page, allowed="Séance ANNULÉE" if key in SHOW_STATUS else None)
    save_picture(page, key, bottom_selector=".st-key-hist_back")


def test_picture_of_home(page, server):
    open_page(page, server["url"] + "/")
    page.get_by_role("heading", name="Tableau de bord QC").wait_for()
    page.get_by_text("Échéancier").first.wait_for()
    _wait_idle(page)
    _no_error(page)
    save_picture(page, "home")


def test_picture_of_history_with_a_trend(page, server):
    open_page(page, server["url"] + "/history")
    page.get_by_role("heading", name="Historique").wait_for()
    _wait_idle(page)
    page.get_by_text("Ouvrir une séance").first.wait_for()
    page.get_by_test_id("stVegaLiteChart").first.wait_for()
    _no_error(page)
    save_picture(page, "history")


def test_picture_of_the_review_queue_with_a_received_session(page, server):
    """One slit image received through the inbox (as the DICOM receiver keeps it) waits on « À valider »."""
    from qc.intake.inbox import accept_object, process_inbox
    from qc.records.storage import Store
    from qc.synthetic.mlc import demo_session_slits

    ((_n, data),) = demo_session_slits(dt.datetime.now().replace(hour=8, minute=0, second=0, microsecond=0), seed=11)
    with Store(server["data"]) as store:
        accept_object(store, data, "guide-test")
        process_inbox(store, force=True)
        assert store.pending_reviews(), "the received slit image did not become a session to review"
    open_page(page, server["url"] + "/review")
    page.get_by_role("heading", name="À valider").wait_for()
    _wait_idle(page)
    page.get_by_role("button", name="Valider").first.wait_for()
    page.get_by_text("MVIC Fente").first.wait_for(timeout=60000)  # the received session's row (drawn after the button)
    _no_error(page)
    save_picture(page, "review")


def test_each_test_page_opens_its_guide_in_the_app(page, server):
    """The « Guide d'utilisation » button of a test page shows the guide's page for it, pictures included, from
    the app itself (no link leaves the intranet)."""
    open_page(page, server["url"] + "/leaves")
    page.get_by_role("heading", name="Position des lames").first.wait_for()
    _wait_idle(page)
    page.get_by_role("button", name="Guide d'utilisation").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Que faire en cas d'échec").first.wait_for()
    dialog.get_by_test_id("stImage").first.wait_for()
    assert dialog.locator("a[href*='github']").count() == 0
    assert dialog.locator("a[href$='.md']").count() == 0  # links between guide pages are shown as their text
    _no_error(page)
    _shot(page, "guide_dialog")  # with QC_SCREENSHOTS only (not a picture of the guide)
