"""Automatic intake speed: objects received per second, and time from the last image of a 6-image AQUA session
to its result waiting for review, through a real `python -m qc receive` and DCMTK's `storescu` on 127.0.0.1.

    .venv/bin/python bench/bench_intake.py [--sessions 5]

Prints wall times, the receiver's CPU time (from /proc) and the machine's load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=5, help="6-image AQUA sessions to send")
    args = ap.parse_args()
    from qc.records.storage import open_store
    from qc.synthetic import UNITY_SERIAL, UNITY_STATION
    from qc.synthetic.mlc import demo_session_leaves

    tmp = Path(tempfile.mkdtemp(prefix="bench_intake_"))
    data = tmp / "data"
    with open_store(data) as store:
        mid = store.add_machine("Unity 1", UNITY_STATION, UNITY_SERIAL, user="bench")
        store.add_calibration(mid, 511.03, 652.75, "2020-01-01", user="bench")
    sessions = []
    for k in range(args.sessions):
        folder = tmp / f"s{k}"
        folder.mkdir()
        for i, (_n, d) in enumerate(demo_session_leaves(dt.datetime(2026, 10, 1, 8, 0) + dt.timedelta(days=k), seed=k)):
            (folder / f"{i}.dcm").write_bytes(d)
        sessions.append(sorted(folder.glob("*.dcm")))
    port = free_port()
    env = {**os.environ, "QC_DATA_DIR": str(data), "QC_NO_DEMO": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "qc", "receive", "--address", "127.0.0.1", "--port", str(port), "--every", "0.2"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        time.sleep(0.05)
    cpu0 = cpu_seconds(proc.pid)
    db = sqlite3.connect(data / "qc.sqlite")
    storescu = shutil.which("storescu")
    send_s, to_result = [], []
    for k, files in enumerate(sessions):
        t0 = time.perf_counter()
        subprocess.run([storescu, "-aet", "UNITY1", "-aec", "MRLINACQC", "127.0.0.1", str(port), *map(str, files)], check=True)
        t1 = time.perf_counter()
        while db.execute("select count(*) from sessions where review_state = 'pending'").fetchone()[0] < k + 1:
            time.sleep(0.02)
        t2 = time.perf_counter()
        send_s.append(t1 - t0)
        to_result.append(t2 - t1)
    cpu = cpu_seconds(proc.pid) - cpu0
    proc.send_signal(signal.SIGINT)
    proc.wait(10)
    n = sum(len(f) for f in sessions)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    print(f"{n} RT Images (2.1 MB each) in {len(sessions)} sessions of 6")
    print(f"received: {n / sum(send_s):.1f} objects/s (storescu wall time {sum(send_s):.2f} s, durable write included)")
    print(f"last image → result waiting for review: median {sorted(to_result)[len(to_result) // 2]:.2f} s, max {max(to_result):.2f} s")
    print(f"receiver CPU time: {cpu:.2f} s for everything ({cpu / len(sessions):.2f} s per session)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
