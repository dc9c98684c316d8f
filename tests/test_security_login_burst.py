"""Login bursts (issue 26 §1, §2): password checks are bounded in number and memory; attempts beyond
the bound are answered at once ("busy"), the real user at a known address still gets in, and hashes
made with older parameters keep verifying and are re-made at the next login.

The full-server burst (a real `streamlit run`, 24 and 200 logins from 127.0.0.x) is
`bench/bench_login_burst.py`; `test_login_burst_through_the_real_server` runs a small one."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from conftest import REPO
from qc.records import auth
from qc.records.storage import open_store


class CountingScrypt:
    """hashlib stand-in whose scrypt records how many run at once (and holds each for `hold_s`)."""

    def __init__(self, hold_s: float = 0.3) -> None:
        import hashlib

        self._real = hashlib
        self.hold_s = hold_s
        self.lock = threading.Lock()
        self.running = 0
        self.max_running = 0
        self.spans: list[tuple[float, float]] = []

    def __getattr__(self, name):
        return getattr(self._real, name)

    def scrypt(self, *args, **kwargs):
        with self.lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        t0 = time.monotonic()
        try:
            time.sleep(self.hold_s)
            return self._real.scrypt(*args, **kwargs)
        finally:
            with self.lock:
                self.running -= 1
                self.spans.append((t0, time.monotonic()))


@pytest.fixture
def cheap(monkeypatch, qc_data_dir):
    monkeypatch.setattr(auth, "SCRYPT_N", 2**10)
    monkeypatch.setattr(auth, "SCRYPT_P", 1)
    s = open_store(qc_data_dir)
    auth.add_user(s, "adm", "Chef", "admin", "adm-secret-1", by="test")
    yield s
    s.close()


def burst(data_dir, names_addresses: list[tuple[str, str, str]]) -> list[tuple[str, str, float, float]]:
    """Every (username, password, address) at once, one thread and one connection each:
    [(username, answer, started, ended)]."""
    from qc.records.storage import Store

    gate = threading.Barrier(len(names_addresses))
    out: list = []

    def attempt(name: str, password: str, address: str) -> None:
        store = Store(data_dir)
        gate.wait()
        t0 = time.monotonic()
        user, reason = auth.authenticate(store, name, password, address)
        out.append((name, "ok" if user else reason, t0, time.monotonic()))
        store.close()

    threads = [threading.Thread(target=attempt, args=a) for a in names_addresses]
    [t.start() for t in threads]
    [t.join(timeout=120) for t in threads]
    return out


def test_parallel_logins_are_bounded_and_the_rest_answered_at_once(cheap, qc_data_dir, monkeypatch):
    """12 made-up names from 12 addresses at once: at most CHECK_SLOTS checks run together (before:
    all 12, each 128 MiB), the others are told "busy" at once, not checked, not counted as failures."""
    fake = CountingScrypt(hold_s=2.0)
    monkeypatch.setattr(auth, "hashlib", fake)
    answers = burst(qc_data_dir, [(f"ghost{i}", "guess-guess", f"127.0.0.{10 + i}") for i in range(12)])
    assert len(answers) == 12
    # It raced: every attempt started while the checks were running (before the first check ended), and each
    # "busy" answer came while CHECK_SLOTS checks were in progress.
    first_check_end = min(end for _start, end in fake.spans)
    assert all(start < first_check_end for _, _, start, _ in answers), (answers, fake.spans)
    checked = [(start, end) for _n, a, start, end in answers if a == "wrong"]
    for _n, a, _start, end in answers:
        if a == "busy":
            assert sum(s0 < end < s1 for s0, s1 in checked) == auth.CHECK_SLOTS, (end, checked)
    assert fake.max_running <= auth.CHECK_SLOTS, fake.max_running
    got = [a for _, a, _, _ in answers]
    assert got.count("busy") >= 12 - auth.CHECK_SLOTS and set(got) <= {"wrong", "busy"}
    busy_s = [end - start for _, a, start, end in answers if a == "busy"]
    assert max(busy_s) < fake.hold_s, busy_s  # answered without waiting for a check
    assert auth._busy_log.flush()  # "busy" answers are written in batches by one thread
    outcomes = [r["outcome"] for r in cheap.db.query("select outcome from login_attempts")]
    assert outcomes.count("busy") == got.count("busy") and outcomes.count("wrong") == got.count("wrong")
    actions = cheap.audit_frame()["action"].tolist()
    assert actions.count("login_busy") == got.count("busy")
    assert auth.busy_retry_s() >= 1


def test_the_real_user_at_a_known_address_gets_the_reserved_slot(cheap, qc_data_dir, monkeypatch):
    assert auth.authenticate(cheap, "adm", "adm-secret-1", "127.0.0.2")[0] is not None  # the admin's workstation
    fake = CountingScrypt(hold_s=1.5)
    monkeypatch.setattr(auth, "hashlib", fake)
    attackers = [(f"ghost{i}", "guess-guess", f"127.0.0.{20 + i}") for i in range(6)]
    result: dict = {}

    def admin_later() -> None:
        from qc.records.storage import Store

        time.sleep(0.4)  # the burst holds every general slot by now
        store = Store(qc_data_dir)
        result["admin"] = auth.authenticate(store, "adm", "adm-secret-1", "127.0.0.2")
        result["stranger"] = auth.authenticate(store, "adm", "adm-secret-1", "127.0.0.99")
        store.close()

    t = threading.Thread(target=admin_later)
    t.start()
    answers = burst(qc_data_dir, attackers)
    t.join(timeout=60)
    assert [a for _, a, _, _ in answers].count("wrong") == auth.CHECK_SLOTS
    assert result["admin"][0]["username"] == "adm"
    assert result["stranger"] == (None, "busy") or result["stranger"][0] is not None  # the general slots may be free again
    assert fake.max_running <= auth.CHECK_SLOTS + auth.RESERVED_SLOTS


def test_a_hash_with_older_parameters_verifies_and_is_remade(cheap, monkeypatch):
    """A hash from before the cost change (other N, p) still logs in; it is re-made with today's
    parameters at that login and the session then stays valid."""
    monkeypatch.setattr(auth, "SCRYPT_N", 2**11)
    monkeypatch.setattr(auth, "SCRYPT_P", 2)
    old = cheap.db.query("select password_hash from users where username = 'adm'").__next__()["password_hash"]
    assert old.startswith(f"scrypt${2**10}$8$1$")
    user, _ = auth.authenticate(cheap, "adm", "adm-secret-1", "10.0.0.5")
    assert user is not None
    new = cheap.db.query("select password_hash from users where username = 'adm'").__next__()["password_hash"]
    assert new.startswith(f"scrypt${2**11}$8$2$") and auth.verify_password("adm-secret-1", new)
    assert auth.revalidate(cheap, user) is not None
    assert auth.authenticate(cheap, "adm", "wrong-wrong", "10.0.0.6") == (None, "wrong")
    details = [json.loads(d) for a, d in zip(cheap.audit_frame()["action"], cheap.audit_frame()["details"]) if a == "login"]
    assert details[-1].get("rehashed") is True


_MEMORY_BURST = r"""
import resource, sys, threading, time
sys.path.insert(0, {repo!r})
from qc.records import auth
from qc.records.storage import Store
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
gate = threading.Barrier({n})
answers = []
def attempt(i):
    store = Store({data!r})
    gate.wait()
    answers.append(auth.authenticate(store, "ghost%d" % i, "guess-guess", "127.0.1.%d" % i)[1])
    store.close()
threads = [threading.Thread(target=attempt, args=(i,)) for i in range({n})]
[t.start() for t in threads]
[t.join() for t in threads]
print(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, ",".join(answers))
"""


def test_memory_of_a_burst_with_the_real_cost_is_bounded(qc_data_dir):
    """12 made-up names at once with the real scrypt cost, in a fresh process: its peak memory grows by
    at most the bound (CHECK_SLOTS × 16 MiB and some slack), not 12 × 128 MiB (1.5 GB, the old code)."""
    with open_store(qc_data_dir):
        pass
    n = 12
    out = subprocess.run([sys.executable, "-c", _MEMORY_BURST.format(repo=str(REPO), data=str(qc_data_dir), n=n)],
                         capture_output=True, text=True, timeout=300, check=True).stdout.split()
    before_kb, after_kb, answers = int(out[0]), int(out[1]), out[2].split(",")
    growth_mb = (after_kb - before_kb) / 1024
    bound_mb = (auth.CHECK_SLOTS + auth.RESERVED_SLOTS) * auth.scrypt_memory_bytes() / 2**20
    assert len(answers) == n and "busy" in answers
    assert growth_mb < bound_mb + 40, (growth_mb, bound_mb)


def test_login_burst_through_the_real_server():
    """A real `streamlit run` with QC_AUTH=password: 12 made-up names log in at once, each from its own
    127.0.x.y, through the browser's websocket protocol, while the admin logs in from a known address.
    Nothing dropped, the server's memory grows < 300 MB, the admin is in within 3 s (see below). (Before: 24 at once
    took the server from 283 MB to 2.6 GB and dropped 16 connections; the 200-login run is the bench.)"""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_login_burst", REPO / "bench" / "bench_login_burst.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    r = bench.run(12, 12, keep=False)
    assert r["alive"] and not r["dropped"], r
    assert sum(r["answers"].values()) == 12 and r["answers"].get("busy", 0) >= 1, r  # it raced: some found no free slot
    assert r["growth_mb"] < 300, r
    # Within 3 s; on this shared machine (load 10-17 from other jobs) the admin's login alone already takes
    # 1-3 s, so the bound is 3 s or three times the admin's own login measured just before on the same server.
    assert r["admin"][0] == "ok" and r["admin_alone"][0] == "ok", r
    assert r["admin"][1] < max(3.0, 3 * r["admin_alone"][1]), r
