"""Automatic intake with real parts: DCMTK's `storescu` (Debian) sending to a real `python -m qc receive` on
127.0.0.1, a receiver killed with SIGKILL in the middle of an association, and refusals that do not stop it."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WHEN = dt.datetime(2026, 10, 5, 8, 0)


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI") or os.environ.get("QC_REQUIRE_DICOM_TOOLS"):
            pytest.fail(f"{tool} is missing: .ci/run installs Debian's dcmtk")
        pytest.skip(f"{tool} (Debian package dcmtk) is not installed")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_receiver(data: Path, port: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "QC_DATA_DIR": str(data), "QC_NO_DEMO": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "qc", "receive", "--address", "127.0.0.1", "--port", str(port), "--every", "0.3", *extra],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        if proc.poll() is not None:
            raise AssertionError(f"receiver exited: {proc.stderr.read()}")
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("receiver did not listen within 30 s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def write_files(folder: Path, named: list[tuple[str, bytes]], prefix: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i, (_name, data) in enumerate(named):
        p = folder / f"{prefix}_{i}.dcm"
        p.write_bytes(data)
        out.append(p)
    return out


@pytest.fixture
def unity(store):
    from qc.synthetic import UNITY_SERIAL, UNITY_STATION

    mid = store.add_machine("Unity 1", UNITY_STATION, UNITY_SERIAL, user="test")
    store.add_calibration(mid, 511.03, 652.75, "2020-01-01", user="test")
    return store.machine(mid)


def wait_for(predicate, timeout_s: float = 90.0):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("condition not reached in time")


def test_storescu_sessions_wait_for_review_with_the_numbers_of_an_upload(store, unity, qc_data_dir, tmp_path):
    from qc import pipeline
    from qc.registry import get_test
    from qc.synthetic.field import demo_session
    from qc.synthetic.mlc import demo_session_leaves

    storescu = _need("storescu")
    field_files = demo_session(WHEN, rng_seed=3)
    leaves_files = demo_session_leaves(WHEN + dt.timedelta(minutes=20), seed=3)
    paths = write_files(tmp_path / "send", field_files, "champ") + write_files(tmp_path / "send", leaves_files, "aqua")
    port = free_port()
    proc = start_receiver(qc_data_dir, port, "--allow-aet", "UNITY1")
    try:
        t0 = time.perf_counter()
        out = subprocess.run([storescu, "-aet", "UNITY1", "-aec", "MRLINACQC", "127.0.0.1", str(port), *map(str, paths)],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        pending = wait_for(lambda: len(store.pending_reviews()) == 2 and store.pending_reviews())
        elapsed = time.perf_counter() - t0
        # a non-allowed AE title is refused, and the receiver keeps running
        refused = subprocess.run([storescu, "-aet", "INTRUS", "-aec", "MRLINACQC", "127.0.0.1", str(port), str(paths[0])],
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0
        assert proc.poll() is None
    finally:
        stop(proc)
    print(f"12 objects received and 2 sessions waiting for review in {elapsed:.1f} s")
    by_test = {p["test"]: p for p in pending}
    assert set(by_test) == {"field", "leaves"}
    # nothing in the record (History, trends, monthly report) until a physicist confirms
    assert store.sessions_frame().empty
    assert store.metrics_frame().empty
    assert store.last_sessions(unity["id"]) == {}
    for test, files in (("field", field_files), ("leaves", leaves_files)):
        spec = get_test(test, store)
        upload = pipeline.analyse(store, spec, files, unity)
        stored = store.session(by_test[test]["id"])
        assert stored["status"] == upload.status
        got = {(m["name"], m["item"]): m["value"] for m in stored["metrics"]}
        want = {(j.name, j.item): j.value for j in upload.judged}
        assert got.keys() == want.keys()
        for k, v in want.items():
            assert (got[k] is None and v is None) or got[k] == pytest.approx(v, abs=1e-9), k
        assert stored["operator"] == "réception automatique"
    store.review_session(by_test["field"]["id"], confirm=True, user="physicien")
    store.review_session(by_test["leaves"]["id"], confirm=False, user="physicien", reason="mauvais plan")
    frame = store.sessions_frame()
    assert list(frame["test"]) == ["field"]
    assert store.pending_reviews() == []


def test_unsupported_objects_are_refused_without_stopping_the_receiver(store, unity, qc_data_dir, tmp_path):
    import io

    import pydicom
    from pydicom.dataset import Dataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    from pynetdicom import AE
    from pynetdicom.sop_class import CTImageStorage, RTImageStorage

    from qc.synthetic.field import demo_session

    port = free_port()
    proc = start_receiver(qc_data_dir, port)
    try:
        ae = AE(ae_title="UNITY1")
        ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
        ae.add_requested_context(RTImageStorage, ExplicitVRLittleEndian)
        assoc = ae.associate("127.0.0.1", port, ae_title="MRLINACQC")
        assert assoc.is_established
        ct = Dataset()
        ct.SOPClassUID = CTImageStorage
        ct.SOPInstanceUID = generate_uid()
        ct.file_meta = pydicom.dataset.FileMetaDataset()
        ct.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        with pytest.raises(ValueError):  # no accepted presentation context: refused at negotiation
            assoc.send_c_store(ct)
        # a real image after the refusal is still received
        _name, data = demo_session(WHEN, rng_seed=1)[0]
        good = pydicom.dcmread(io.BytesIO(data))
        status = assoc.send_c_store(good)
        assert status.Status == 0x0000
        assoc.release()
        assert proc.poll() is None
    finally:
        stop(proc)
    rows = list(store.db.query("select * from inbox"))
    assert len(rows) == 1


def test_receiver_killed_mid_association_loses_nothing_it_acknowledged(store, unity, qc_data_dir, tmp_path):
    import io

    import pydicom
    from pynetdicom import AE
    from pynetdicom.sop_class import RTImageStorage

    from qc.intake import inbox
    from qc.synthetic.mlc import demo_session_leaves

    objects = [pydicom.dcmread(io.BytesIO(d)) for _n, d in demo_session_leaves(WHEN, seed=5)]
    objects += [pydicom.dcmread(io.BytesIO(d)) for _n, d in demo_session_leaves(WHEN + dt.timedelta(hours=3), seed=6)]
    port = free_port()
    proc = start_receiver(qc_data_dir, port)
    acknowledged: list[str] = []
    three_stored, killed = threading.Event(), threading.Event()

    def send():
        ae = AE(ae_title="UNITY1")
        ae.add_requested_context(RTImageStorage)
        assoc = ae.associate("127.0.0.1", port, ae_title="MRLINACQC")
        try:
            for ds in objects:
                st = assoc.send_c_store(ds)
                if st and st.Status == 0x0000:
                    acknowledged.append(str(ds.SOPInstanceUID))
                if len(acknowledged) == 3 and not three_stored.is_set():
                    # the kill comes while the association is open with objects left to send (on a fast machine
                    # all 12 used to be stored before the test could kill the receiver)
                    three_stored.set()
                    killed.wait(30)
                if not assoc.is_established:
                    break
        except Exception:  # noqa: BLE001 - the peer vanished
            pass
        finally:
            if assoc.is_established:
                assoc.abort()

    sender = threading.Thread(target=send)
    sender.start()
    assert three_stored.wait(60)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed.set()
    sender.join(30)
    assert 3 <= len(acknowledged) < len(objects)
    # restart: the receiver recovers what was written but not yet recorded
    proc = start_receiver(qc_data_dir, port)
    stop(proc)
    inbox.recover_inbox(store)
    uids = [r["sop_instance_uid"] for r in store.db.query("select sop_instance_uid from inbox")]
    for uid in acknowledged:
        assert uids.count(uid) == 1, uid
    assert len(uids) == len(set(uids))
    assert not list((qc_data_dir / "inbox").glob(".*.part"))


def test_watch_folder_takes_each_complete_file_once_and_sets_aside_what_is_not_dicom(store, unity, qc_data_dir, tmp_path):
    from qc.intake import watch as W
    from qc.synthetic.mlc import demo_session_slits

    drop = tmp_path / "partage"
    drop.mkdir()
    (name, data), = demo_session_slits(WHEN, seed=2)
    (drop / "fente.dcm").write_bytes(data)
    (drop / "notes.txt").write_text("pas une image")
    partial = drop / "en_cours.dcm"
    partial.write_bytes(data[: len(data) // 2])
    old = time.time() - 60
    for f in (drop / "fente.dcm", drop / "notes.txt"):
        os.utime(f, (old, old))
    log = W.watch(qc_data_dir, drop, settle_s=30, once=True)
    assert {n for n, _k, _w in log} == {"fente.dcm", "notes.txt"}  # the copy in progress is left alone
    assert partial.exists()
    assert (drop / "done" / "fente.dcm").exists()
    assert (drop / "failed" / "notes.txt").exists()
    assert (drop / "failed" / "notes.txt.why.txt").read_text().strip()
    pending = store.pending_reviews()
    assert [p["test"] for p in pending] == ["slits"]  # one image is a complete slit session
    # taken once: a second pass finds nothing new
    assert W.watch(qc_data_dir, drop, settle_s=30, once=True) == []


def test_unknown_machine_and_unrecognised_test_wait_as_unassigned_with_why(store, unity, qc_data_dir):
    from qc.intake import inbox
    from qc.synthetic import rt_image_bytes, unity_raw_from_signal
    import numpy as np

    raw = unity_raw_from_signal(np.zeros((64, 64)))
    stranger = rt_image_bytes(raw, acquired_at=WHEN, station_name="AUTRE", device_serial="X-1")
    unknown = rt_image_bytes(raw, acquired_at=WHEN, label="IMAGE", patient_name="PATIENT^TEST", patient_id="P1", study_id="S")
    inbox.accept_object(store, stranger, "test")
    inbox.accept_object(store, unknown, "test")
    inbox.accept_object(store, unknown, "test")  # the same object twice is kept once
    inbox.process_inbox(store)
    rows = inbox.inbox_rows(store)
    assert len(rows) == 2
    assert all(r["state"] == "unassigned" and r["reason"] for r in rows)
    assert "AUTRE" in rows[0]["reason"]
    # a physicist assigns it by hand; it is then analysed like the rest (here it fails: not a field image)
    inbox.assign(store, [rows[1]["id"]], unity["id"], "field", "physicien")
    out = inbox.process_inbox(store, force=True)
    assert out and out[0]["session_id"] is None and out[0]["error"]
    assert store.pending_reviews() == []


def test_routing_settings_are_checked_and_a_wrong_object_is_set_aside_audited(store, unity):
    import numpy as np

    from qc.errors import QCInputError
    from qc.intake import inbox
    from qc.synthetic import rt_image_bytes, unity_raw_from_signal

    with pytest.raises(QCInputError):
        inbox.save_settings(store, rules=[{"test": "field", "pattern": "(("}], expected={}, window_minutes=60, quiet_minutes=10, user="x")
    inbox.save_settings(store, rules=[{"test": "field", "field": "text", "pattern": "CONTROLE", "modality": "RTIMAGE"}],
                        expected={"field": 1}, window_minutes=30, quiet_minutes=5, user="admin")
    raw = unity_raw_from_signal(np.zeros((64, 64)))
    iid = inbox.accept_object(store, rt_image_bytes(raw, acquired_at=WHEN, patient_name="CONTROLE^QUOTIDIEN"), "test")
    inbox.route_waiting(store)
    assert store.db["inbox"].get(iid)["test"] == "field"
    with pytest.raises(QCInputError):
        inbox.set_aside(store, [iid], "", "physicien")
    inbox.set_aside(store, [iid], "Patient envoyé par erreur", "physicien")
    assert store.db["inbox"].get(iid)["state"] == "ignored"
    assert (store.data_dir / store.db["inbox"].get(iid)["path"]).exists()  # never erased
    assert any(r["action"] == "set_aside_inbox" for r in store.db.query("select action from audit"))


def test_a_received_mr_study_is_split_into_the_mr_linac_tests(store):
    """A whole MR export (B0 maps and the B1 double-angle pair, one study) received object by object becomes
    one session per MR-Linac test, each waiting for review."""
    from qc.intake import inbox
    from qc.synthetic import mr_linac as S

    mid = store.add_machine("Unity MR", S.STATION, S.SERIAL, user="test")
    when = dt.datetime(2026, 10, 7, 18, 0)
    b0, _ = S.b0_map_study(when, n=64, spacing_mm=7.0, orientations=("transverse",), seed=1)
    b1, _ = S.b1_study(when + dt.timedelta(minutes=10), n=64, spacing_mm=7.0, orientations=("transverse",), seed=1)
    for _n, data in b0 + b1:
        inbox.accept_object(store, data, "test")
    assert inbox.process_inbox(store) == []  # not complete until quiet or forced
    done = inbox.process_inbox(store, force=True)
    assert sorted(d["test"] for d in done if d.get("session_id")) == ["mr-b0", "mr-b1"]
    assert sorted(p["test"] for p in store.pending_reviews()) == ["mr-b0", "mr-b1"]
    assert all(p["machine_id"] == mid for p in store.pending_reviews())
