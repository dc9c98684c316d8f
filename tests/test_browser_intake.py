"""Real-browser path of automatic intake: the Streamlit server starts its DICOM receiver (QC_RECEIVER_PORT), DCMTK's
storescu sends a slit session, the physicist sees it on Home, confirms it on "À valider", finds it in History,
and measures a distance on the image in the viewer."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import time

import pytest

from test_browser_e2e import ARGS, CHROMIUM, _free_port, _require, _wait_idle, streamlit_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def intake_server(tmp_path_factory):
    _require()
    if shutil.which("storescu") is None:
        pytest.fail("storescu (Debian dcmtk) is missing") if os.environ.get("QC_REQUIRE_DICOM_TOOLS") else pytest.skip("needs dcmtk")
    from qc.records.storage import open_store
    from qc.synthetic import UNITY_SERIAL, UNITY_STATION

    data = tmp_path_factory.mktemp("intake-e2e")
    with open_store(data) as s:
        mid = s.add_machine("Unity 1", UNITY_STATION, UNITY_SERIAL, user="test")
        s.add_calibration(mid, 511.03, 652.75, "2020-01-01", user="test")
    dicom_port = _free_port()
    env = {**os.environ, "QC_DATA_DIR": str(data), "QC_NO_DEMO": "1", "QC_RECEIVER_PORT": str(dicom_port),
           "QC_RECEIVER_ADDRESS": "127.0.0.1", "QC_RECEIVER_ALLOW_AET": "UNITY1"}
    with streamlit_server(env, timeout_s=30) as (url, _health_s):
        yield {"url": url, "data": data, "dicom_port": dicom_port}


def test_received_session_is_reviewed_in_the_browser_and_measured_in_the_viewer(intake_server, tmp_path):
    from playwright.sync_api import sync_playwright

    from qc.records.storage import Store
    from qc.synthetic.mlc import demo_session_slits

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(60000)
        # the first page run starts the receiver beside the server
        pg.goto(intake_server["url"] + "/home")
        _wait_idle(pg)
        ((_n, data),) = demo_session_slits(dt.datetime(2026, 10, 12, 8, 0), seed=11)
        f = tmp_path / "fente.dcm"
        f.write_bytes(data)
        deadline = time.time() + 30
        while True:  # the receiver thread may take a moment to listen
            out = subprocess.run(["storescu", "-aet", "UNITY1", "-aec", "MRLINACQC", "127.0.0.1", str(intake_server["dicom_port"]), str(f)],
                                 capture_output=True, text=True)
            if out.returncode == 0 or time.time() > deadline:
                break
            time.sleep(0.5)
        assert out.returncode == 0, out.stderr
        with Store(intake_server["data"]) as store:
            deadline = time.time() + 60
            while not store.pending_reviews() and time.time() < deadline:
                time.sleep(0.3)
            pending = store.pending_reviews()
        assert len(pending) == 1
        pg.goto(intake_server["url"] + "/home")
        _wait_idle(pg)
        pg.get_by_text("attendent votre validation").first.wait_for()
        pg.goto(intake_server["url"] + "/review")
        _wait_idle(pg)
        pg.get_by_text("Opérateur").first.wait_for()
        pg.get_by_placeholder("Vos initiales ou votre nom").fill("MP")
        pg.keyboard.press("Enter")
        _wait_idle(pg)
        pg.get_by_role("button", name="Valider").click()
        _wait_idle(pg)
        pg.get_by_text("Aucune séance en attente de validation").wait_for()
        with Store(intake_server["data"]) as store:
            frame = store.sessions_frame()
            assert list(frame["test"]) == ["slits"]
            assert store.session(int(frame["id"].iloc[0]))["reviewed_by"] == "MP"
        # the viewer: measure mode, drag a rectangle on the image, a distance in mm appears
        pg.goto(intake_server["url"] + "/viewer")
        _wait_idle(pg)
        pg.get_by_text("Mesure", exact=True).click()
        _wait_idle(pg)
        chart = pg.locator('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg').first
        chart.wait_for(state="visible")
        box = chart.bounding_box()
        for _ in range(20):  # the chart may be redrawn (detached) just after it appears: ask again
            if box is not None:
                break
            pg.wait_for_timeout(250)
            box = chart.bounding_box()
        assert box is not None, "the viewer's image never settled on the page"
        x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
        pg.mouse.move(x0, y0)
        pg.mouse.down()
        pg.mouse.move(x0 + 120, y0 + 90, steps=8)
        pg.mouse.up()
        pg.get_by_text("Distance A–B").wait_for(timeout=30000)
        if os.environ.get("QC_SCREENSHOTS"):
            pg.screenshot(path=os.path.join(os.environ["QC_SCREENSHOTS"], "viewer_measure.png"), full_page=True)
        browser.close()
