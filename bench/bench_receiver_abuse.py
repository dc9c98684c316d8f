"""The DICOM receiver under abuse, with real parts (issue 26 §3–§5): a real `python -m qc receive` on a free
loopback port and DCMTK's `storescu`.

    .venv/bin/python bench/bench_receiver_abuse.py [--big-mib 512] [--burst 50]

1. a `--big-mib` MiB RT Image (a real Unity image of the demo session with a bigger pixel matrix, same
   study and time) is sent: it must be refused (association aborted) with the receiver's peak memory under
   400 MB, nothing in the inbox; the 6-image session sent after it is received and analysed (not spoiled);
2. 10 senders, each from its own loopback address, stall mid-PDU (every slot taken), then the same Unity sends
   a normal 6-image session, retrying every second as a sender does: it must be in within 30 s;
3. one address (a colleague's script on 127.0.0.2) asks for 10 associations and holds them: it must get at most
   `max_associations_per_address` (4) and the Unity's storescu from 127.0.0.3 its 6 images at its first try;
4. `--burst` storescu associations at once, one image each, all from 127.0.0.1, then from 10 addresses: how many
   are stored, how many told "busy" (A-ASSOCIATE-RJ rejected-transient, local-limit-exceeded), none hanging.
A storescu from another loopback address connects through an LD_PRELOAD shim (tests/test_security_receiver.py,
compiled with gcc) since storescu cannot choose its source address.
Prints each figure with the load average; exit 1 when a bound is missed. Loopback only, bounded loops.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from test_intake_receiver import free_port, start_receiver, stop, write_files  # noqa: E402
from test_security_receiver import (  # noqa: E402
    _closed_by_peer,
    _stalled_sender,
    big_object_like,
    build_source_shim,
    peak_rss_mb,
    storescu_from,
)

WHEN = dt.datetime(2026, 10, 5, 8, 0)
STORESCU = shutil.which("storescu") or "/usr/bin/storescu"


def send(port: int, paths: list[Path], aet: str = "UNITY1") -> subprocess.CompletedProcess:
    return subprocess.run([STORESCU, "-aet", aet, "-aec", "MRLINACQC", "127.0.0.1", str(port), *map(str, paths)],
                          capture_output=True, text=True, timeout=600)


def machine(store) -> None:
    from qc.synthetic import UNITY_SERIAL, UNITY_STATION

    mid = store.add_machine("Unity 1", UNITY_STATION, UNITY_SERIAL, user="bench")
    store.add_calibration(mid, 511.03, 652.75, "2020-01-01", user="bench")


def big_object(big_mib: int, tmp: Path, like: bytes) -> Path:
    cols = 8192
    rows = big_mib * 2**20 // (2 * cols)
    path = tmp / "big.dcm"
    path.write_bytes(big_object_like(like, rows, cols))
    return path


def part_big(port: int, proc, tmp: Path, big_mib: int, store) -> bool:
    from qc.synthetic.mlc import demo_session_leaves

    session = demo_session_leaves(WHEN, seed=3)
    big = big_object(big_mib, tmp, session[0][1])
    time.sleep(2.0)
    base = peak_rss_mb(proc.pid)
    t0 = time.perf_counter()
    out = send(port, [big])
    refused_s = time.perf_counter() - t0
    time.sleep(1.0)
    peak = peak_rss_mb(proc.pid)
    ok = send(port, write_files(tmp / "s1", session, "aqua"))
    deadline = time.time() + 120
    # the session is stored, then its inbox rows marked analysed in a second transaction: wait for both
    while time.time() < deadline and not (store.pending_reviews() and all(
            r["state"] == "analysed" for r in store.db.query("select state from inbox"))):
        time.sleep(0.5)
    rows = list(store.db.query("select state from inbox"))
    print(f"1. {big.stat().st_size / 2**20:.0f} MiB object: storescu exit {out.returncode} after {refused_s:.1f} s; receiver peak "
          f"{base:.0f} MB idle -> {peak:.0f} MB; inbox rows {len(rows)} (the 6 of the session after it: "
          f"{[r['state'] for r in rows].count('analysed')} analysed); sessions waiting for review {len(store.pending_reviews())}")
    big.unlink()
    from qc.intake.refusals import refusal_sentences

    said = refusal_sentences(store)
    print(f"   said on Home and « À valider »: {said[0][:150] if said else 'nothing'}…")
    return len(said) == 1 and out.returncode != 0 and peak < 400 and ok.returncode == 0 and len(rows) == len(session) and len(store.pending_reviews()) == 1


def part_stalled(port: int, tmp: Path) -> bool:
    from qc.synthetic.mlc import demo_session_leaves

    paths = write_files(tmp / "s2", demo_session_leaves(WHEN + dt.timedelta(hours=2), seed=4), "aqua")
    stalled, made = [], []
    for k in range(10):
        stalled.append(_stalled_sender(port, source=f"127.0.0.{10 + k}"))
        made.append(time.monotonic())
    t0 = time.perf_counter()
    attempts = []
    while time.perf_counter() - t0 < 60:
        rc = send(port, paths).returncode
        attempts.append(rc)
        if rc == 0:
            break
        time.sleep(1.0)
    took = time.perf_counter() - t0
    closed = sum(_closed_by_peer(s, max(0.5, m + 20.0 - time.monotonic())) for s, m in zip(stalled, made))
    for s in stalled:
        s.close()
    print(f"2. 10 stalled senders (10 addresses): the 6-image session in after {took:.1f} s ({len(attempts)} attempts, the first "
          f"{'refused' if attempts[0] else 'accepted'}); stalled connections closed by the receiver: {closed}/10")
    return attempts[-1] == 0 and took < 30 and closed == 10


def part_one_address(port: int, tmp: Path, shim: Path, store) -> bool:
    from pynetdicom import AE
    from pynetdicom.sop_class import RTImageStorage
    from qc.synthetic.mlc import demo_session_leaves

    paths = write_files(tmp / "s3", demo_session_leaves(WHEN + dt.timedelta(hours=4), seed=5), "aqua")
    script = AE(ae_title="SCRIPT")
    script.add_requested_context(RTImageStorage)
    held = [script.associate("127.0.0.1", port, ae_title="MRLINACQC", bind_address=("127.0.0.2", 0)) for _ in range(10)]
    got = sum(a.is_established for a in held)
    before = len(list(store.db.query("select id from inbox where source = 'DICOM UNITY1@127.0.0.3'")))
    t0 = time.perf_counter()
    out = storescu_from(shim, "127.0.0.3", port, paths, "UNITY1")
    took = time.perf_counter() - t0
    for a in held:
        if a.is_established:
            a.release()
    after = len(list(store.db.query("select id from inbox where source = 'DICOM UNITY1@127.0.0.3'")))
    print(f"3. a script on 127.0.0.2 asking for 10 associations got {got}, {sum(a.is_rejected for a in held)} told busy; the "
          f"Unity's storescu from 127.0.0.3: exit {out.returncode}, {after - before} images in {took:.1f} s at its first try")
    return got <= 4 and out.returncode == 0 and after - before == len(paths)


def burst_files(tmp: Path, n: int, tag: str, day0: int) -> list[Path]:
    from qc.synthetic.mlc import demo_session_leaves

    files = []
    for k in range(0, n, 6):
        files += write_files(tmp / f"{tag}{k}", demo_session_leaves(WHEN + dt.timedelta(days=day0 + k), seed=100 + day0 + k), f"{tag}{k}")
    return files[:n]


def part_burst(port: int, tmp: Path, n: int, store, shim: Path | None, day0: int) -> bool:
    time.sleep(6.0)
    files = burst_files(tmp, n, "m" if shim else "b", day0)
    before = len(list(store.db.query("select id from inbox")))
    t0 = time.perf_counter()
    if shim is None:
        send_one = lambda kp: send(port, [kp[1]])  # noqa: E731
    else:  # 10 addresses, n/10 senders each
        send_one = lambda kp: storescu_from(shim, f"127.0.1.{1 + kp[0] % 10}", port, [kp[1]], "UNITY1", 600)  # noqa: E731
    with ThreadPoolExecutor(n) as pool:
        outs = list(pool.map(send_one, enumerate(files)))
    took = time.perf_counter() - t0
    stored = sum(o.returncode == 0 for o in outs)
    busy = sum("Local Limit Exceeded" in (o.stdout + o.stderr) or "local-limit-exceeded" in (o.stdout + o.stderr).lower() for o in outs)
    after = len(list(store.db.query("select id from inbox")))
    where = "from 10 addresses" if shim else "from one address"
    print(f"4. {n} associations at once {where}: {stored} stored ({after - before} new inbox rows), {busy} told busy "
          f"(rejected transient, local limit exceeded), {n - stored - busy} other; all answered in {took:.1f} s")
    return stored + busy == n and after - before == stored


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--big-mib", type=int, default=512)
    p.add_argument("--burst", type=int, default=50)
    a = p.parse_args()
    from qc.records.storage import open_store

    tmp = Path(tempfile.mkdtemp(prefix="qc-rx-abuse-"))
    shim = build_source_shim(tmp, shutil.which("gcc") or "/usr/bin/gcc")
    data = tmp / "data"
    store = open_store(data)
    machine(store)
    port = free_port()
    proc = start_receiver(data, port)
    try:
        results = [part_big(port, proc, tmp, a.big_mib, store), part_stalled(port, tmp), part_one_address(port, tmp, shim, store),
                   part_burst(port, tmp, a.burst, store, None, 1), part_burst(port, tmp, a.burst, store, shim, 1 + a.burst)]
        alive = proc.poll() is None
    finally:
        stop(proc)
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"receiver alive throughout: {alive}; load {os.getloadavg()[0]:.1f}")
    ok = all(results) and alive
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
