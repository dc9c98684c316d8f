"""Login under attack (issue 18 §1, §2): parallel guesses are all counted, delays grow per
account × address, per address and per account, an outsider cannot keep the real user out, and
unknown usernames answer exactly like known ones. Every attempt is in the audit log."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from conftest import REPO
from qc.records import auth
from qc.records.storage import open_store

OUTSIDER = "10.6.6.6"
WORKSTATION = "10.0.0.5"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fast(monkeypatch, qc_data_dir):
    """Cheap scrypt (N = 2^10) and a clock the test moves: delays are checked without waiting."""
    monkeypatch.setattr(auth, "SCRYPT_N", 2**10)
    monkeypatch.setattr(auth, "SCRYPT_P", 1)
    clock = FakeClock()
    monkeypatch.setattr(auth, "time", clock)
    s = open_store(qc_data_dir)
    auth.add_user(s, "adm", "Chef", "admin", "adm-secret-1", by="test")
    auth.add_user(s, "op", "Opé", "operator", "op-secret-1", by="test")
    yield s, clock
    s.close()


def guess_until_throttled(store, clock, username: str, address: str, n: int) -> None:
    """n checked wrong guesses, waiting out each delay (the fake clock jumps over it)."""
    for _ in range(n):
        clock.advance(auth.retry_after(store, username, address) + 0.01)
        assert auth.authenticate(store, username, "wrong-guess", address)[1] == "wrong"


def test_delays_grow_per_account_and_address(fast):
    store, clock = fast
    waits = []
    for _ in range(auth.FREE_FAILURES_PAIR + 3):
        assert auth.authenticate(store, "op", "nope-nope", OUTSIDER)[1] == "wrong"
        waits.append(auth.retry_after(store, "op", OUTSIDER))
        clock.advance(waits[-1] + 0.01)
    assert waits == [0, 0, 2, 4, 8, 16]
    # Within a delay the password is not even checked (the right one is refused too).
    guess_until_throttled(store, clock, "op", OUTSIDER, 1)
    assert auth.authenticate(store, "op", "op-secret-1", OUTSIDER) == (None, "throttled")
    clock.advance(auth.retry_after(store, "op", OUTSIDER) + 0.01)
    assert auth.authenticate(store, "op", "op-secret-1", OUTSIDER)[0]["username"] == "op"  # a success resets
    assert auth.retry_after(store, "op", OUTSIDER) == 0


def test_outsider_failures_do_not_stop_the_real_user_from_another_address(fast):
    store, clock = fast
    guess_until_throttled(store, clock, "adm", OUTSIDER, 30)
    assert auth.authenticate(store, "adm", "adm-secret-1", OUTSIDER) == (None, "throttled")
    # The administrator, from a workstation never used before, is not delayed at all.
    user, reason = auth.authenticate(store, "adm", "adm-secret-1", WORKSTATION)
    assert reason == "" and user["role"] == "admin"


def test_spread_guessing_slows_new_addresses_but_not_the_usual_workstation(fast):
    store, clock = fast
    assert auth.authenticate(store, "adm", "adm-secret-1", WORKSTATION)[0]  # the usual workstation
    for i in range(5):  # 5 machines × 3 guesses = 15 ≥ 10 for the account
        guess_until_throttled(store, clock, "adm", f"10.6.6.{10 + i}", auth.FREE_FAILURES_PAIR)
    assert auth.retry_after(store, "adm", "10.6.6.99") > 0
    assert auth.authenticate(store, "adm", "adm-secret-1", "10.6.6.99") == (None, "throttled")
    assert auth.authenticate(store, "adm", "adm-secret-1", WORKSTATION)[0]["username"] == "adm"


def test_one_address_spraying_many_usernames_is_slowed(fast):
    store, clock = fast
    for i in range(auth.FREE_FAILURES_ADDRESS):
        assert auth.authenticate(store, f"user{i}", "pw-guess-1", OUTSIDER)[1] == "wrong"
    assert auth.authenticate(store, "op", "op-secret-1", OUTSIDER) == (None, "throttled")
    assert auth.authenticate(store, "op", "op-secret-1", WORKSTATION)[0]["username"] == "op"


def test_new_password_ends_the_delays(fast):
    store, clock = fast
    guess_until_throttled(store, clock, "op", OUTSIDER, 8)
    assert auth.retry_after(store, "op", OUTSIDER) > 0
    auth.update_user(store, "op", "adm", password="op-secret-2")
    assert auth.retry_after(store, "op", OUTSIDER) == 0


def test_every_attempt_is_audited_with_its_address(fast):
    store, clock = fast
    auth.authenticate(store, "op", "x-wrong-1", OUTSIDER)
    auth.authenticate(store, "ghost", "x-wrong-1", OUTSIDER)
    auth.authenticate(store, "op", "op-secret-1", WORKSTATION)
    for _ in range(3):
        auth.authenticate(store, "op", "x-wrong-1", OUTSIDER)  # the third is throttled
    audit = store.audit_frame()
    rows = audit[audit["action"].str.startswith("login")]
    assert sorted(rows["action"]) == sorted(["login_failed"] * 4 + ["login", "login_throttled"])
    assert {json.loads(d)["address"] for d in rows["details"]} == {OUTSIDER, WORKSTATION}
    assert "ghost" in set(rows["user"])


def test_unknown_and_known_users_answer_alike(qc_data_dir):
    """Same answer, same counters, same cost (real scrypt parameters): the login form does not
    tell which usernames exist."""
    with open_store(qc_data_dir) as store:
        auth.add_user(store, "chef", "Chef", "admin", "chef-secret-1", by="test")
        auth.add_user(store, "gone", "Parti", "operator", "gone-secret-1", by="test")
        auth.update_user(store, "gone", "test", active=False)
        timings: dict[str, list[float]] = {"chef": [], "ghost": [], "gone": []}
        for i in range(2):
            for name in timings:
                t0 = time.perf_counter()
                assert auth.authenticate(store, name, "wrong-guess", f"10.1.{i}.{len(name)}") == (None, "wrong")
                timings[name].append(time.perf_counter() - t0)
        # The least of the tries is the cost itself: load from other processes (the other pytest-xdist worker, other
        # jobs on the machine) only ever adds time, and one try slowed by it made the median of two fail (ratio 1.73).
        med = {k: min(v) for k, v in timings.items()}
        assert med["chef"] > 0.05  # a real scrypt ran
        for name in ("ghost", "gone"):
            assert 0.6 < med[name] / med["chef"] < 1.6, med
        # The same delays for a name that does not exist.
        for name in ("chef", "ghost"):
            for _ in range(auth.FREE_FAILURES_PAIR - 2):
                auth.authenticate(store, name, "wrong-guess", OUTSIDER)
        answers = {name: [auth.authenticate(store, name, "wrong-guess", OUTSIDER)[1] for _ in range(3)] for name in ("chef", "ghost")}
        assert answers["chef"] == answers["ghost"]


_GUESSER = r"""
import sys, threading, time
sys.path.insert(0, {repo!r})
from qc.records import auth
from qc.records.storage import Store
start_at = float(sys.argv[1])
def guess():
    store = Store({data!r})
    while time.time() < start_at:
        time.sleep(0.005)
    print(auth.authenticate(store, "op", "parallel-guess", {addr!r})[1], flush=True)
    store.close()
threads = [threading.Thread(target=guess) for _ in range(2)]
[t.start() for t in threads]
[t.join() for t in threads]
"""


def test_24_parallel_guesses_from_12_processes_are_all_counted(qc_data_dir):
    """Issue 18 §1: the count was read outside the write transaction; 24 parallel guesses left it
    at 2. Now each guess is counted before its check, in the transaction that decides it."""
    with open_store(qc_data_dir) as store:
        auth.add_user(store, "op", "Opé", "operator", "op-secret-1", by="test")
    code = _GUESSER.format(repo=str(REPO), data=str(qc_data_dir), addr=OUTSIDER)
    start_at = time.time() + 6.0
    procs = [subprocess.Popen([sys.executable, "-c", code, str(start_at)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(12)]
    answers = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        answers += out.split()
    # "busy": every check slot was taken at that moment (not checked, not a failure; counted and audited too)
    assert len(answers) == 24 and set(answers) <= {"wrong", "throttled", "busy"}
    with open_store(qc_data_dir) as store:
        outcomes = [r["outcome"] for r in store.db.query("select outcome from login_attempts where username = 'op'")]
        audit = store.audit_frame()
    assert len(outcomes) == 24  # every guess counted
    checked = answers.count("wrong")
    assert checked == outcomes.count("wrong")
    assert checked <= auth.FREE_FAILURES_PAIR + 1, answers  # the rest never reached the password check
    assert len(audit[audit["action"].isin(["login_failed", "login_throttled", "login_busy"])]) == 24
    with open_store(qc_data_dir) as store:
        # The guesser was slowed: at most FREE_FAILURES_PAIR + 1 of its 24 guesses reached the password check
        # (asserted above). Whether it must still wait now depends on how long this loaded machine took since its
        # last checked guess (the delays are in seconds), so that is not asserted here: test_delays_grow… covers it.
        assert auth.authenticate(store, "op", "op-secret-1", WORKSTATION)[0]["username"] == "op"  # the user is not
