"""Back-filling from a real Orthanc (Debian package `orthanc`, started here on free local ports): through its
REST API, and through DICOM C-FIND / C-MOVE to our own receiver."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

WHEN = dt.datetime(2026, 9, 14, 7, 45)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def orthanc(tmp_path):
    exe = shutil.which("Orthanc") or ("/usr/sbin/Orthanc" if Path("/usr/sbin/Orthanc").exists() else None)
    if exe is None:
        if os.environ.get("CI") or os.environ.get("QC_REQUIRE_DICOM_TOOLS"):
            pytest.fail("Orthanc is missing: .ci/run installs Debian's orthanc")
        pytest.skip("Orthanc (Debian package orthanc) is not installed")
    http, dicom, ours = free_port(), free_port(), free_port()
    store = tmp_path / "orthanc"
    store.mkdir()
    config = {
        "Name": "QCTEST", "StorageDirectory": str(store), "IndexDirectory": str(store),
        "HttpPort": http, "DicomPort": dicom, "DicomAet": "ORTHANC", "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False, "HttpServerEnabled": True, "DicomServerEnabled": True,
        "DicomModalities": {"qc": ["MRLINACQC", "127.0.0.1", ours]},
        "Plugins": [],
    }
    cfg = tmp_path / "orthanc.json"
    cfg.write_text(json.dumps(config))
    proc = subprocess.Popen([exe, str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{http}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/system", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"Orthanc exited: {proc.stderr.read()[-500:]!r}")
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("Orthanc did not answer within 30 s")
    yield {"url": url, "dicom_port": dicom, "our_port": ours}
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def upload(url: str, files: list[tuple[str, bytes]]) -> None:
    for _name, data in files:
        req = urllib.request.Request(url + "/instances", data=data, headers={"Content-Type": "application/dicom"})
        urllib.request.urlopen(req, timeout=30).read()


@pytest.fixture
def unity(store):
    from qc.synthetic import UNITY_SERIAL, UNITY_STATION

    mid = store.add_machine("Unity 1", UNITY_STATION, UNITY_SERIAL, user="test")
    store.add_calibration(mid, 511.03, 652.75, "2020-01-01", user="test")
    return store.machine(mid)


def test_a_month_of_history_back_filled_from_orthanc_rest(store, unity, orthanc):
    from qc.intake import inbox, pacs
    from qc.synthetic.field import demo_session
    from qc.synthetic.mlc import demo_session_slits

    upload(orthanc["url"], demo_session(WHEN, rng_seed=4))
    upload(orthanc["url"], demo_session_slits(WHEN + dt.timedelta(days=7), seed=4))
    upload(orthanc["url"], demo_session_slits(dt.datetime(2026, 12, 1, 8, 0), seed=5))  # outside the range asked
    n = pacs.retrieve_from_orthanc(store, pacs.OrthancClient(orthanc["url"]), dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    assert n == 6
    done = inbox.process_inbox(store, force=True)
    assert sorted(d["test"] for d in done) == ["field", "slits"]
    assert all(d["session_id"] for d in done)
    pending = store.pending_reviews()
    assert [p["acquired_at"][:10] for p in pending] == ["2026-09-14", "2026-09-21"]
    # asked again: nothing is taken twice
    pacs.retrieve_from_orthanc(store, pacs.OrthancClient(orthanc["url"]), dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    assert inbox.process_inbox(store, force=True) == []
    assert len(store.pending_reviews()) == 2


def test_c_find_and_c_move_to_our_receiver(store, unity, orthanc, qc_data_dir):
    from qc.intake import inbox, pacs
    from qc.intake.receiver import Receiver, ReceiverConfig
    from qc.synthetic.mlc import demo_session_slits

    upload(orthanc["url"], demo_session_slits(WHEN, seed=8))
    receiver = Receiver(qc_data_dir, ReceiverConfig(port=orthanc["our_port"], address="127.0.0.1", allowed_ae_titles=["ORTHANC"]))
    receiver.start()
    try:
        uids = pacs.find_studies("127.0.0.1", orthanc["dicom_port"], "ORTHANC", dt.date(2026, 9, 1), dt.date(2026, 9, 30))
        assert len(uids) == 1
        moved = pacs.move_studies("127.0.0.1", orthanc["dicom_port"], "ORTHANC", uids, "MRLINACQC")
    finally:
        receiver.stop()
    assert moved == 1
    done = inbox.process_inbox(store)
    assert [d["test"] for d in done] == ["slits"]
    assert store.pending_reviews()[0]["test"] == "slits"


def test_unreachable_orthanc_is_one_sentence(store):
    from qc.errors import QCInputError
    from qc.intake import pacs

    with pytest.raises(QCInputError) as err:
        pacs.retrieve_from_orthanc(store, pacs.OrthancClient(f"http://127.0.0.1:{free_port()}", timeout_s=2), dt.date(2026, 1, 1), dt.date(2026, 1, 2))
    assert "Orthanc" in err.value.message("fr")
