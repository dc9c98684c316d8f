"""The DICOM receiver under abuse (issue 26 §3–§6), with real parts: a real `python -m qc receive` on
127.0.0.1, DCMTK's `storescu`, raw TCP senders that stall. An object over the size limit is cut while it
streams in and never joins its group; stalled senders are cut and a normal session then gets through; a
burst past the association limit is told "busy" (transient), and one sender address cannot take every
slot; the inbox keeps to its quota; what is refused for lack of room is said on the review page and Home; a
busy port says so. The 512 MiB object is `bench/bench_receiver_abuse.py`."""

from __future__ import annotations

import datetime as dt
import io
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_intake_receiver import REPO, _need, free_port, start_receiver, stop, unity, wait_for, write_files  # noqa: F401

WHEN = dt.datetime(2026, 10, 5, 8, 0)


# connect() from the address in QC_SOURCE_ADDRESS (LD_PRELOAD): DCMTK's storescu has no option to choose its
# source address, and on loopback Linux always picks 127.0.0.1, so a second sender needs this to be a second peer.
SOURCE_SHIM_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
int connect(int fd, const struct sockaddr *to, socklen_t len) {
    static int (*real)(int, const struct sockaddr *, socklen_t);
    if (!real) real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    const char *from = getenv("QC_SOURCE_ADDRESS");
    if (from && to->sa_family == AF_INET) {
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        if (inet_pton(AF_INET, from, &a.sin_addr) == 1) bind(fd, (struct sockaddr *)&a, sizeof a);
    }
    return real(fd, to, len);
}
"""


def build_source_shim(folder: Path, gcc: str) -> Path:
    """Compile SOURCE_SHIM_C into `folder`; returns the shared library for LD_PRELOAD."""
    (folder / "source.c").write_text(SOURCE_SHIM_C)
    subprocess.run([gcc, "-shared", "-fPIC", "-O1", "-o", str(folder / "source.so"), str(folder / "source.c"), "-ldl"],
                   check=True, capture_output=True)
    return folder / "source.so"


@pytest.fixture(scope="module")
def source_shim(tmp_path_factory) -> Path:
    """The compiled shim that makes a real storescu connect from another loopback address."""
    return build_source_shim(tmp_path_factory.mktemp("shim"), _need("gcc"))


def storescu_from(shim: Path, address: str, port: int, paths: list[Path], aet: str, timeout_s: float = 120) -> subprocess.CompletedProcess:
    """DCMTK's storescu, connecting from `address` (127.x.y.z) to the receiver on 127.0.0.1."""
    import os

    env = {**os.environ, "LD_PRELOAD": str(shim), "QC_SOURCE_ADDRESS": address}
    return subprocess.run([_need("storescu"), "-aet", aet, "-aec", "MRLINACQC", "127.0.0.1", str(port), *map(str, paths)],
                          capture_output=True, text=True, timeout=timeout_s, env=env)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def big_object_like(data: bytes, rows: int, cols: int) -> bytes:
    """A copy of a real RT Image of the session, same study and time, with a bigger (rows × cols) image."""
    import numpy as np
    import pydicom
    from pydicom.uid import generate_uid

    ds = pydicom.dcmread(io.BytesIO(data))
    ds.Rows, ds.Columns = rows, cols
    ds.PixelData = np.full((rows, cols), 1000, dtype=np.uint16).tobytes()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def test_an_object_over_the_size_limit_is_cut_while_it_streams_and_spoils_nothing(store, unity, qc_data_dir, tmp_path):  # noqa: F811
    from qc.synthetic.mlc import demo_session_leaves

    storescu = _need("storescu")
    session = demo_session_leaves(WHEN, seed=3)
    big = big_object_like(session[0][1], 4096, 5120)  # 40 MiB of pixels, limit 8 MB
    big_path = tmp_path / "big.dcm"
    big_path.write_bytes(big)
    paths = write_files(tmp_path / "send", session, "aqua")
    port = free_port()
    proc = start_receiver(qc_data_dir, port, "--max-object-mb", "8")
    try:
        time.sleep(2.0)
        base = peak_rss_mb(proc.pid)
        t0 = time.perf_counter()
        out = subprocess.run([storescu, "-aet", "UNITY1", "-aec", "MRLINACQC", "127.0.0.1", str(port), str(big_path)],
                             capture_output=True, text=True, timeout=120)
        refused_s = time.perf_counter() - t0
        assert out.returncode != 0, out.stdout + out.stderr  # the sender is told: the association was aborted
        time.sleep(1.0)
        peak = peak_rss_mb(proc.pid)  # before the normal session's analysis (which has its own memory)
        ok = subprocess.run([storescu, "-aet", "UNITY1", "-aec", "MRLINACQC", "127.0.0.1", str(port), *map(str, paths)],
                            capture_output=True, text=True, timeout=120)
        assert ok.returncode == 0, ok.stderr
        pending = wait_for(lambda: store.pending_reviews())
        assert proc.poll() is None
    finally:
        stop(proc)
    print(f"40 MiB object refused in {refused_s:.1f} s; receiver peak {base:.0f} MB idle, {peak:.0f} MB after")
    rows = list(store.db.query("select sop_instance_uid, state from inbox"))
    assert len(rows) == len(session)  # nothing of the big one kept
    assert {r["state"] for r in rows} == {"analysed"}
    assert [p["test"] for p in pending] == ["leaves"]
    assert sum(f.stat().st_size for f in (qc_data_dir / "inbox").glob("*")) < 3 * 2**20 * len(session)
    # the cut comes at 8 MB: well under one copy of the 40 MiB object (the old receiver held it ~5 times)
    assert peak - base < 40, (base, peak)
    # the physicist is told, on the review page and Home (before: only the receiver's log said it)
    from qc.intake.refusals import refusal_sentences
    from qc.textsafe import md_escape

    (sentence,) = refusal_sentences(store)
    assert sentence.startswith("Objet trop gros refusé : 1 envoi(s) de " + md_escape("UNITY1 (127.0.0.1)")), sentence
    assert "limite de 8 Mo" in sentence and "renvoyez" in sentence


def _stalled_sender(port: int, within_s: float = 30.0, source: str = "127.0.0.1") -> socket.socket:
    """An association from `source` that gets established, then a P-DATA-TF PDU that announces 16 kB and stops
    after 100 B.

    Retried while the receiver answers "busy" (start_receiver's readiness probe holds a slot until the
    receiver's ACSE timeout)."""
    from pynetdicom import AE
    from pynetdicom.sop_class import RTImageStorage

    ae = AE(ae_title="STALL")
    ae.add_requested_context(RTImageStorage)
    deadline = time.monotonic() + within_s
    while True:
        assoc = ae.associate("127.0.0.1", port, ae_title="MRLINACQC", bind_address=(source, 0))
        if assoc.is_established or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert assoc.is_established
    raw = assoc.dul.socket.socket
    assoc.dul._kill_thread = True  # our side stops reading: the socket is now only ours
    time.sleep(0.1)
    raw.sendall(struct.pack(">BBL", 0x04, 0x00, 16384) + b"\x00" * 100)
    return raw


def _closed_by_peer(sock: socket.socket, timeout_s: float) -> bool:
    sock.settimeout(timeout_s)
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except (TimeoutError, OSError):
        return False


def test_ten_stalled_senders_do_not_keep_the_unity_out(store, unity, qc_data_dir, tmp_path):  # noqa: F811
    """Issue 26 §4: ten senders stalled mid-PDU held every association slot for good; the Unity was
    refused "Local Limit Exceeded" for over 60 s. Now a read waits at most 15 s (the default): the Unity,
    retrying as a sender does, gets its 6 images in within 30 s. The ten come each from its own address, so
    that they fill every slot (one address gets at most 4)."""
    from qc.synthetic.mlc import demo_session_leaves

    storescu = _need("storescu")
    paths = write_files(tmp_path / "send", demo_session_leaves(WHEN, seed=4), "aqua")
    port = free_port()
    proc = start_receiver(qc_data_dir, port)
    stalled = []
    try:
        made_at = []
        for k in range(10):
            stalled.append(_stalled_sender(port, source=f"127.0.0.{10 + k}"))
            made_at.append(time.monotonic())
        t0 = time.perf_counter()
        attempts = []
        while time.perf_counter() - t0 < 60:
            out = subprocess.run([storescu, "-aet", "UNITY1", "-aec", "MRLINACQC", "127.0.0.1", str(port), *map(str, paths)],
                                 capture_output=True, text=True, timeout=60)
            attempts.append((round(time.perf_counter() - t0, 1), out.returncode))
            if out.returncode == 0:
                break
            time.sleep(1.0)
        received_s = time.perf_counter() - t0
        # each stalled sender is cut once it has been silent for the idle limit (15 s) and a little slack
        closed = [_closed_by_peer(s, max(0.5, made + 20.0 - time.monotonic())) for s, made in zip(stalled, made_at)]
    finally:
        for s in stalled:
            s.close()
        stop(proc)
    print(f"attempts (s, rc): {attempts}; received after {received_s:.1f} s")
    assert attempts[0][1] != 0  # it raced: the first send found every slot taken by the stalled senders
    assert attempts[-1][1] == 0 and received_s < 30, attempts
    assert all(closed), closed
    assert len(list(store.db.query("select id from inbox"))) == 6


def test_a_trickling_sender_is_cut_at_the_association_time_limit(qc_data_dir):
    port = free_port()
    proc = start_receiver(qc_data_dir, port, "--association-max-s", "4", "--idle-s", "3")
    try:
        s = _stalled_sender(port)
        t0 = time.perf_counter()
        cut = False
        for _ in range(20):  # one byte a second: never idle long enough for the idle limit
            try:
                s.sendall(b"\x00")
            except OSError:
                cut = True
                break
            if _closed_by_peer(s, 1.0):
                cut = True
                break
        elapsed = time.perf_counter() - t0
        s.close()
    finally:
        stop(proc)
    assert cut and elapsed < 10, elapsed


def test_a_burst_past_the_association_limit_is_told_busy_transient(qc_data_dir):
    """PS3.8 §9.3.4: A-ASSOCIATE-RJ result 2 (rejected-transient), source 3, reason 2 (local limit
    exceeded): a sender may retry later."""
    from pynetdicom import AE
    from pynetdicom.sop_class import RTImageStorage

    port = free_port()
    proc = start_receiver(qc_data_dir, port, "--max-associations", "3")
    held = []
    try:
        ae = AE(ae_title="UNITY1")
        ae.add_requested_context(RTImageStorage)
        time.sleep(6.0)  # start_receiver's readiness probe (a bare connect) holds a slot for the 5 s ACSE timeout
        held = [ae.associate("127.0.0.1", port, ae_title="MRLINACQC") for _ in range(3)]
        assert all(a.is_established for a in held)
        extra = ae.associate("127.0.0.1", port, ae_title="MRLINACQC")
        assert extra.is_rejected
        rj = extra.acceptor.primitive
        assert (rj.result, rj.result_source, rj.diagnostic) == (0x02, 0x03, 0x02)
        held[0].release()
        time.sleep(0.5)
        again = ae.associate("127.0.0.1", port, ae_title="MRLINACQC")
        assert again.is_established  # a slot freed: the retry gets in
        again.release()
    finally:
        for a in held:
            if a.is_established:
                a.release()
        stop(proc)


def test_inbox_quota_sweeps_the_oldest_reviewed_files_then_refuses(store, unity, qc_data_dir):  # noqa: F811
    from qc.intake import inbox
    from qc.synthetic.mlc import demo_session_leaves

    first = demo_session_leaves(WHEN, seed=7)
    for _n, data in first:
        inbox.accept_object(store, data, "test")
    inbox.process_inbox(store, now=WHEN + dt.timedelta(days=1), force=True)
    (sid,) = {r["session_id"] for r in store.db.query("select session_id from inbox")}
    size = inbox.inbox_bytes(store)
    one = len(first[0][1])
    # Pending review: nothing may be swept (the review page re-reads them), so the next object is refused.
    assert not inbox.make_room(store, one, size)
    assert inbox.inbox_bytes(store) == size
    store.review_session(sid, confirm=True, user="physicien")
    assert inbox.make_room(store, one, size)  # the oldest reviewed file goes
    assert inbox.inbox_bytes(store) == size - one
    swept = [r for r in store.db.query("select path from inbox") if r["path"] == ""]
    assert len(swept) == 1
    assert len(list((qc_data_dir / "inbox").glob("*.dcm"))) == len(first) - 1
    assert "inbox_swept" in store.audit_frame()["action"].tolist()
    # The stored session still has every image.
    assert all(store.file_bytes(f["stored_path"]) for f in store.session(sid)["files"])


def test_a_busy_port_says_so(qc_data_dir):
    import os

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "QC_DATA_DIR": str(qc_data_dir), "QC_NO_DEMO": "1", "PYTHONPATH": str(REPO)}
        out = subprocess.run([sys.executable, "-m", "qc", "receive", "--address", "127.0.0.1", "--port", str(port)],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "Port déjà utilisé" in out.stderr and str(port) in out.stderr, out.stderr
    assert "Écriture impossible" not in out.stderr and "Traceback" not in out.stderr


def test_a_full_inbox_answers_out_of_resources_and_keeps_nothing_more(store, unity, qc_data_dir, tmp_path):  # noqa: F811
    """Nothing reviewed yet (nothing may be swept): past the quota every object gets 0xA700, the sender's
    retryable "out of resources", and the inbox stays under its quota."""
    from qc.synthetic.mlc import demo_session_leaves

    storescu = _need("storescu")
    session = demo_session_leaves(WHEN, seed=8)
    paths = write_files(tmp_path / "send", session, "aqua")
    one_mb = len(session[0][1]) / 2**20
    port = free_port()
    proc = start_receiver(qc_data_dir, port, "--inbox-quota-mb", f"{2.5 * one_mb:.3f}")
    try:
        out = subprocess.run([storescu, "-v", "-aet", "UNITY1", "-aec", "MRLINACQC", "127.0.0.1", str(port), *map(str, paths)],
                             capture_output=True, text=True, timeout=120)
    finally:
        stop(proc)
    text = (out.stdout + out.stderr).lower()
    assert "0xa700" in text or "out of resources" in text or "outofresources" in text, text[-2000:]
    rows = list(store.db.query("select size from inbox"))
    assert len(rows) == 2 and sum(r["size"] for r in rows) <= 2.5 * one_mb * 2**20
    from qc.intake.refusals import refusal_sentences
    from qc.textsafe import md_escape

    (sentence,) = refusal_sentences(store)  # storescu stops at its first failure status
    assert sentence.startswith("Boîte de réception pleine : 1 image(s) envoyée(s) par " + md_escape("UNITY1 (127.0.0.1)")), sentence
    assert md_escape("RTIMAGE — 2026-10-05") in sentence and "validez ou rejetez les sessions en attente" in sentence, sentence


def test_one_sender_address_cannot_take_the_unitys_association_slots(store, unity, qc_data_dir, tmp_path, source_shim):  # noqa: F811
    """A colleague's script on 127.0.0.2 asks for 10 associations and holds them: with the defaults (10 at once,
    4 per address) it gets 4 and is told « busy » for the rest, its own storescu too; the Unity's storescu from
    127.0.0.3 gets in at once with its 6 images (before: the script took every slot and the Unity was refused)."""
    from pynetdicom import AE
    from pynetdicom.sop_class import RTImageStorage
    from qc.intake.receiver import REJECT_BUSY
    from qc.synthetic.mlc import demo_session_leaves

    session = write_files(tmp_path / "send", demo_session_leaves(WHEN, seed=5), "aqua")
    other = write_files(tmp_path / "other", demo_session_leaves(WHEN + dt.timedelta(days=1), seed=6), "other")
    port = free_port()
    proc = start_receiver(qc_data_dir, port)
    held = []
    try:
        script = AE(ae_title="SCRIPT")
        script.add_requested_context(RTImageStorage)
        held = [script.associate("127.0.0.1", port, ae_title="MRLINACQC", bind_address=("127.0.0.2", 0)) for _ in range(10)]
        assert [a.is_established for a in held].count(True) == 4
        busy = [a for a in held if a.is_rejected]
        assert len(busy) == 6
        assert all((a.acceptor.primitive.result, a.acceptor.primitive.result_source, a.acceptor.primitive.diagnostic)
                   == REJECT_BUSY for a in busy)
        colleague = storescu_from(source_shim, "127.0.0.2", port, other[:1], "SCRIPT")
        unity_send = storescu_from(source_shim, "127.0.0.3", port, session, "UNITY1")
    finally:
        for a in held:
            if a.is_established:
                a.release()
        stop(proc)
    assert colleague.returncode != 0 and "local limit exceeded" in (colleague.stdout + colleague.stderr).lower(), colleague.stderr
    assert unity_send.returncode == 0, unity_send.stdout + unity_send.stderr
    sources = [r["source"] for r in store.db.query("select source from inbox")]
    assert sources == ["DICOM UNITY1@127.0.0.3"] * 6  # the shim did make it another peer


def test_refusals_are_said_plainly_for_a_week_on_home_and_review(store, qc_data_dir):
    """A refusal is one sentence per sender and reason, the sender's AE title and address shown as written (no
    markdown, no link), on Home and on « À valider »; older than a week it is no longer said."""
    from streamlit.testing.v1 import AppTest

    from qc.intake.refusals import RECENT_DAYS, refusal_sentences
    from qc.records.intake_refusals import record_refusal
    from qc.textsafe import md_escape

    record_refusal(store, "quota", "**EVIL**", "10.0.0.9", 2_000_000, 4096, "RTIMAGE — 2026-10-05 08:00 — [x](http://a.b)")
    record_refusal(store, "quota", "**EVIL**", "10.0.0.9", 2_000_000, 4096)
    record_refusal(store, "too_large", "UNITY1", "10.0.0.5", 70_000_000, 64)
    store.db.execute("update intake_refusals set at = '2020-01-01 00:00:00' where reason = 'too_large'")
    store.db.conn.commit()
    (sentence,) = refusal_sentences(store)  # the too-large one is older than RECENT_DAYS: no longer said
    assert len(refusal_sentences(store, now=dt.datetime(2020, 1, 1) + dt.timedelta(days=RECENT_DAYS - 1))) == 2
    assert "2 image(s) envoyée(s) par " + md_escape("**EVIL** (10.0.0.9)") in sentence, sentence
    assert "**EVIL**" not in sentence and "[x](http" not in sentence and "4096 Mo" in sentence
    (english,) = refusal_sentences(store, "en")
    assert english.startswith("Inbox full: 2 image(s)")

    for page in (None, "pages/review.py"):
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
        at.session_state["lang"] = "fr"
        at.session_state["operator"] = "Dr Physicienne"
        at.run()
        if page:
            at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        assert [e.value for e in at.error if "Boîte de réception pleine" in e.value] == [sentence]


def test_an_address_off_the_allow_list_is_rejected_permanently_and_never_accepted(qc_data_dir):
    """The allow-list's A-ASSOCIATE-RJ (rejected-permanent, calling AE title not recognised) ends the association:
    before, pynetdicom went on negotiating after it (the association was not marked rejected)."""
    from pynetdicom import AE
    from pynetdicom.sop_class import RTImageStorage
    from qc.intake.receiver import Receiver, ReceiverConfig

    port = free_port()
    receiver = Receiver(qc_data_dir, ReceiverConfig(port=port, address="127.0.0.1", allowed_addresses=["127.0.0.9"]))
    receiver.start()
    try:
        ae = AE(ae_title="UNITY1")
        ae.add_requested_context(RTImageStorage)
        refused = ae.associate("127.0.0.1", port, ae_title="MRLINACQC")
        allowed = ae.associate("127.0.0.1", port, ae_title="MRLINACQC", bind_address=("127.0.0.9", 0))
        assert allowed.is_established
        allowed.release()
    finally:
        receiver.stop()
    assert refused.is_rejected and not refused.is_established
    rj = refused.acceptor.primitive
    assert (rj.result, rj.result_source, rj.diagnostic) == (0x01, 0x01, 0x03)
    assert receiver.refused == 1


def test_the_per_address_bound_is_set_beside_the_server_and_must_be_positive():
    from qc.intake.receiver import ReceiverConfig, config_from_env

    assert ReceiverConfig().max_associations_per_address == 4
    env = {"QC_RECEIVER_PORT": "11112", "QC_RECEIVER_MAX_ASSOCIATIONS_PER_ADDRESS": "2"}
    assert config_from_env(env).max_associations_per_address == 2
    with pytest.raises(ValueError, match="MAX_ASSOCIATIONS_PER_ADDRESS"):
        config_from_env({**env, "QC_RECEIVER_MAX_ASSOCIATIONS_PER_ADDRESS": "0"})
