"""Login burst against the REAL server (issue 26 §1, §2): N made-up usernames log in at the same time,
each from its own loopback address (127.0.0.x), while the real admin logs in from a known address.

    .venv/bin/python bench/bench_login_burst.py [--logins 24] [--at-once 24] [--keep]

What it does: builds a temporary data folder with one admin (who logged in once from 127.0.0.2, so that
address is "known"), starts `streamlit run app.py` with QC_AUTH=password on a free loopback port, then
opens one Streamlit websocket session per attempt (the browser's protocol: BackMsg/ForwardMsg protobufs
on /_stcore/stream), bound to its own source address 127.0.1.x / 127.0.2.x …, fills the login form and
submits it, `--at-once` sessions at a time. Half-way through the burst the admin logs in from 127.0.0.2.

It prints: answers by kind (wrong / busy / throttled / ok), dropped connections (a session that got no
answer within 120 s or whose websocket closed), the server's memory (RSS from /proc) before and its peak
during the burst, the admin's login time, the health endpoint's worst latency during the burst, and the
wall time (with the load average). Exit 1 when a bound is missed: memory growth ≥ 300 MB, the admin's
login ≥ 3 s, any dropped connection. Loopback only; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ADMIN, ADMIN_PASSWORD, ADMIN_ADDRESS = "chef", "chef-secret-1", "127.0.0.2"
ANSWER_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def prepare(data: Path) -> None:
    """One admin who already logged in from ADMIN_ADDRESS (a known workstation)."""
    from qc.records import auth
    from qc.records.storage import open_store

    with open_store(data) as s:
        s.add_machine("Unity A")
        auth.add_user(s, ADMIN, "Chef", "admin", ADMIN_PASSWORD, by="bench")
        assert auth.authenticate(s, ADMIN, ADMIN_PASSWORD, ADMIN_ADDRESS)[0] is not None


def start_server(data: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "QC_DATA_DIR": str(data), "QC_NO_DEMO": "1", "QC_AUTH": "password", "QC_BACKUP_INTERVAL_HOURS": "0"}
    env.pop("QC_RECEIVER_PORT", None)
    log = open(data.parent / "streamlit.log", "wb")
    # 0.0.0.0 so that every 127.0.0.x can connect (loopback: no other interface is used by this bench)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    end = time.monotonic() + 120
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                if r.read() == b"ok":
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the server did not answer within 120 s")


def _rerun(widgets=()) -> bytes:
    from streamlit.proto.BackMsg_pb2 import BackMsg

    msg = BackMsg()
    msg.rerun_script.query_string = ""
    msg.rerun_script.page_script_hash = ""
    for wid, kind, value in widgets:
        w = msg.rerun_script.widget_states.widgets.add()
        w.id = wid
        setattr(w, kind, value)
    return msg.SerializeToString()


async def _read_run(ws, deadline: float) -> dict:
    """Read ForwardMsgs until the script run finishes: the login form's widget ids and the alerts shown."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    seen: dict = {"inputs": {}, "submit": None, "alerts": [], "texts": [], "logged_in_at": None}
    while True:
        raw = await asyncio.wait_for(ws.recv(), timeout=max(0.1, deadline - time.monotonic()))
        fm = ForwardMsg()
        fm.ParseFromString(raw)
        kind = fm.WhichOneof("type")
        if kind == "delta" and fm.delta.WhichOneof("type") == "new_element":
            el = fm.delta.new_element
            which = el.WhichOneof("type")
            if which == "text_input":
                seen["inputs"][el.text_input.label] = el.text_input.id
            elif which == "button" and el.button.is_form_submitter:
                seen["submit"] = el.button.id
            elif which == "alert":
                seen["alerts"].append(el.alert.body)
            elif which == "text":
                seen["texts"].append(el.text.body)
                if seen["logged_in_at"] is None and ("Connecté" in el.text.body or "Logged in" in el.text.body):
                    seen["logged_in_at"] = time.monotonic()  # the sidebar says who is logged in
        elif kind == "script_finished":
            return seen


async def login(port: int, source: str, username: str, password: str) -> tuple[str, float, str]:
    """One browser session from `source`: open the page, fill and submit the login form.
    Returns (answer, seconds from submit to answer, detail)."""
    from websockets.asyncio.client import connect

    deadline = time.monotonic() + ANSWER_TIMEOUT_S
    try:
        async with connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"], local_addr=(source, 0),
                           max_size=None, open_timeout=ANSWER_TIMEOUT_S, ping_interval=None) as ws:
            await ws.send(_rerun())
            form = await _read_run(ws, deadline)
            ids = list(form["inputs"].values())
            if len(ids) != 2 or form["submit"] is None:
                return "dropped", 0.0, f"no login form: {form}"
            t0 = time.monotonic()
            await ws.send(_rerun([(ids[0], "string_value", username), (ids[1], "string_value", password),
                                  (form["submit"], "trigger_value", True)]))
            while True:
                run = await _read_run(ws, deadline)
                text = " ".join(run["alerts"] + run["texts"])
                if run["logged_in_at"] is not None:
                    # logged in = the sidebar names the user (the page after it is the home page, whatever it costs)
                    return "ok", run["logged_in_at"] - t0, f"(home page finished after {time.monotonic() - t0:.2f} s)"
                if run["alerts"]:
                    body = run["alerts"][0]
                    answer = ("busy" if "Réessayez dans" in body else "throttled" if "Trop d'essais" in body
                              else "wrong" if "incorrect" in body else "other")
                    return answer, time.monotonic() - t0, body
    except (TimeoutError, asyncio.TimeoutError):
        return "dropped", 0.0, "no answer in time"
    except Exception as exc:  # noqa: BLE001 - a closed or refused websocket is a dropped connection
        return "dropped", 0.0, f"{type(exc).__name__}: {exc}"


def address(i: int) -> str:
    """127.0.1.1, 127.0.1.2 … 127.0.1.250, 127.0.2.1 …: one loopback address per attempt."""
    return f"127.0.{1 + i // 250}.{1 + i % 250}"


async def burst(port: int, n: int, at_once: int) -> tuple[list, tuple]:
    gate = asyncio.Semaphore(at_once)

    async def one(i: int):
        async with gate:
            return await login(port, address(i), f"inconnu{i:04d}", "devinette-1")

    async def admin():
        await asyncio.sleep(1.0)  # the burst is under way
        return await login(port, ADMIN_ADDRESS, ADMIN, ADMIN_PASSWORD)

    results = await asyncio.gather(*(one(i) for i in range(n)), admin())
    return list(results[:-1]), results[-1]


class Watch(threading.Thread):
    """Samples the server's RSS and the health endpoint's latency every 0.2 s."""

    def __init__(self, pid: int, port: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.port = pid, port
        self.peak_mb = 0.0
        self.worst_health_s = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak_mb = max(self.peak_mb, rss_mb(self.pid))
            # curl in its own process: this bench's own asyncio clients must not slow the measure down
            out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-m", "30", "-w", "%{time_total}",
                                  f"http://127.0.0.1:{self.port}/_stcore/health"], capture_output=True, text=True)
            try:
                self.worst_health_s = max(self.worst_health_s, float(out.stdout.strip() or 30))
            except ValueError:
                self.worst_health_s = 30.0
            self.stop.wait(0.2)


def run(n: int, at_once: int, keep: bool) -> dict:
    """The burst and its figures (printed); "pass" says whether every bound held."""
    tmp = Path(tempfile.mkdtemp(prefix="qc-login-burst-"))
    data = tmp / "data"
    prepare(data)
    port = free_port()
    proc = start_server(data, port)
    try:
        # one page load first: the app's imports and first run are not part of the burst
        warm = asyncio.run(login(port, "127.0.0.3", "echauffement", "devinette-1"))
        # the admin's login with no burst, on this machine at this load: what the burst adds is compared to it
        alone = asyncio.run(login(port, ADMIN_ADDRESS, ADMIN, ADMIN_PASSWORD))
        time.sleep(2.0)
        base = rss_mb(proc.pid)
        watch = Watch(proc.pid, port)
        watch.start()
        t0 = time.monotonic()
        answers, admin = asyncio.run(burst(port, n, at_once))
        wall = time.monotonic() - t0
        watch.stop.set()
        watch.join(5)
        alive = proc.poll() is None
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    kinds: dict[str, int] = {}
    for a, _s, _d in answers:
        kinds[a] = kinds.get(a, 0) + 1
    dropped = [d for a, _s, d in answers if a in ("dropped", "other")]
    growth = watch.peak_mb - base
    print(f"{n} logins ({at_once} at a time) from {len({address(i) for i in range(n)})} loopback addresses, warm-up: {warm[0]}")
    print(f"answers: {kinds}; dropped {len(dropped)}" + (f" (first: {dropped[0]})" if dropped else ""))
    print(f"server memory: {base:.0f} MB before, peak {watch.peak_mb:.0f} MB (+{growth:.0f} MB); server alive: {alive}")
    print(f"admin from {ADMIN_ADDRESS}: {admin[0]} in {admin[1]:.2f} s {admin[2]} (alone before the burst: {alone[0]} in {alone[1]:.2f} s)")
    print(f"health endpoint worst latency {watch.worst_health_s:.2f} s; wall {wall:.1f} s; load {os.getloadavg()[0]:.1f}")
    ok = alive and not dropped and growth < 300 and admin[0] == "ok" and admin[1] < 3.0
    print("PASS" if ok else "FAIL")
    return {"pass": ok, "answers": kinds, "dropped": dropped, "growth_mb": growth, "admin": admin, "admin_alone": alone, "alive": alive,
            "worst_health_s": watch.worst_health_s, "wall_s": wall}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--logins", type=int, default=24)
    p.add_argument("--at-once", type=int, default=0, help="sessions at a time (default: all)")
    p.add_argument("--keep", action="store_true", help="keep the temporary data folder and server log")
    a = p.parse_args()
    return 0 if run(a.logins, a.at_once or a.logins, a.keep)["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
