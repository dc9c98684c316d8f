"""The review page as a physicist uses it: a session received automatically shows the same result as an upload,
is confirmed (joins History) or rejected with a reason (voided); Home says what waits."""

from __future__ import annotations

import datetime as dt

from streamlit.testing.v1 import AppTest

from conftest import REPO
from pages_nav import open_page

WHEN = dt.datetime(2026, 10, 5, 8, 0)


def received_sessions(store):
    from qc.intake import inbox
    from qc.synthetic import UNITY_SERIAL, UNITY_STATION
    from qc.synthetic.mlc import demo_session_slits

    mid = store.add_machine("Unity 1", UNITY_STATION, UNITY_SERIAL, user="test")
    store.add_calibration(mid, 511.03, 652.75, "2020-01-01", user="test")
    for k in range(2):
        for _n, data in demo_session_slits(WHEN + dt.timedelta(days=7 * k), seed=k):
            inbox.accept_object(store, data, "test")
    done = inbox.process_inbox(store)
    return [d["session_id"] for d in done]


def start(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["lang"] = "fr"
    at.session_state["operator"] = "Dr Physicienne"
    at.run()
    if page:
        open_page(at, page).run()
    return at


def test_home_says_what_waits_and_review_confirms_and_rejects(store, qc_data_dir):
    sids = received_sessions(store)
    assert len(sids) == 2
    at = start()
    assert any("attendent votre validation" in w.value for w in at.warning)
    at.switch_page("pages/review.py").run()
    assert not at.exception
    assert at.title[0].value == "À valider"
    assert at.dataframe  # the judged table, as on the upload page
    at.button(key="review_confirm").click().run()
    assert not at.exception
    assert len(store.pending_reviews()) == 1
    # rejecting without a reason is refused with one sentence; with one it is voided
    at.button(key="review_reject").click().run()
    assert any("motif" in e.value for e in at.error)
    at.text_input(key="review_reason").input("Mauvais plan chargé")
    at.button(key="review_reject").click().run()
    assert not at.exception
    assert store.pending_reviews() == []
    frame = store.sessions_frame(include_voided=True)
    assert sorted(frame["voided"].tolist()) == [0, 1]
    assert store.session(sids[0])["reviewed_by"] == "Dr Physicienne"


def test_viewer_shows_a_received_image_with_its_header_escaped_and_measures_in_mm(store, qc_data_dir):
    from qc.intake import viewer

    received_sessions(store)
    at = start("pages/viewer.py")
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Visionneuse"
    assert at.dataframe  # the header table
    # the numbers behind the page
    path = next(store.db.query("select path from inbox limit 1"))["path"]
    view = viewer.view_image("x.dcm", (qc_data_dir / path).read_bytes())
    assert view.plane == "iso" and abs(view.pixel_mm[0] - 0.4 * 1435 / 2657.8) < 1e-6
    assert viewer.distance_mm(0, 0, 3, 4) == 5.0
    img = viewer.windowed(view.pixels, *viewer.auto_window(view.pixels))
    assert img.dtype.name == "uint8" and img.min() == 0 and img.max() == 255
    at.radio(key="viewer_mode").set_value("measure").run()
    assert not at.exception
    at.toggle(key="viewer_overlay").set_value(True).run()
    assert not at.exception
