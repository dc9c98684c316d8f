"""Users, roles and passwords for the shared server (off for the local single-user run).

Modes, by the environment variable `QC_AUTH`:
- `off` (default): no login; the person types their name as operator and may do everything
  (the local `run.bat` use on one workstation).
- `password`: users with hashed passwords in the database; a login form guards the app.
- `oidc`: Streamlit's built-in OpenID Connect login (`st.login`, configured in
  `.streamlit/secrets.toml` `[auth]`) against the hospital's identity provider; the user's e-mail
  must match a user of the database, whose role applies.

Roles: operator (record and view), physicist (also tolerances, calibrations, baselines, test
definitions, voiding, sign-off), admin (also users and general settings).

Passwords are hashed with scrypt from Python's standard library (hashlib.scrypt, RFC 7914), with a
random 16-byte salt, compared in constant time. The cost is N=2^14, r=8, p=5: one of the equivalent
settings of the OWASP Password Storage Cheat Sheet (beside N=2^17, r=8, p=1), chosen because its
memory is 128·r·N = 16 MiB per check instead of 128 MiB (the CPU time is about the same). Each hash
stores its own N, r, p: a hash made with other parameters (the 128 MiB ones before issue 26) still
verifies and is re-made with the current ones at its user's next successful login.

Checks are bounded in memory and concurrency (issue 26): at most CHECK_SLOTS password checks run
at once in the process, plus RESERVED_SLOTS kept for a user logging in from an address where they
logged in within 90 days (so a burst of made-up names from elsewhere does not keep the real user
out); an attempt that finds no free slot is not checked and is answered at once "busy, try again in
N s" (recorded and audited, not counted as a failure). hashlib.scrypt releases the interpreter lock
while it runs, so a check does not stop the other sessions' pages.

Guessing is slowed, never turned into a lock an outsider could set off (OWASP Authentication
Cheat Sheet, "Login throttling"; NIST SP 800-63B §5.2.2 rate limiting). Each attempt is recorded
with the client address (table `login_attempts`) and counted BEFORE the password is checked, in
the same `BEGIN IMMEDIATE` transaction that decides whether it may be checked, so parallel
guesses cannot all slip through. Three counters, each over the last 24 hours and reset by a
success, give growing delays (2 s, 4 s, 8 s … up to 15 min) once past their free attempts:
- account × address: 3 free failures (one person mistyping, or one machine guessing one account);
- address: 10 free failures over any usernames (one machine trying many accounts);
- account over every address, each address counting at most 3: 10 free failures (a guess spread
  over many machines); it does not apply to an address where this account logged in within
  90 days, so outsiders cannot keep the real user out of their usual workstation.
Unknown or deactivated usernames take the same path (a scrypt on a dummy hash, the same
counters, the same message), so the answers do not tell which usernames exist. Every attempt,
throttled ones included, is in the audit log with its address.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import secrets
import threading
import time
from time import monotonic as _monotonic  # check durations (tests replace `time` with a fake clock)

ROLES = ("operator", "physicist", "admin")
PERMISSIONS = {
    "record": "operator",
    "view": "operator",
    "void": "physicist",
    "review": "physicist",  # confirm or reject a session received automatically
    "comment": "operator",
    "sign": "physicist",
    "tolerances": "physicist",
    "calibration": "physicist",
    "baseline": "physicist",
    "define_tests": "physicist",
    "machines": "admin",
    "users": "admin",
    "general_settings": "admin",
}
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 5
SCRYPT_MAXMEM = 256 * 1024 * 1024  # refuses a stored hash asking for more (128 MiB hashes of before still verify)
# Password checks at once (each holds 128·r·N bytes, 16 MiB): CHECK_SLOTS for anyone, RESERVED_SLOTS only
# for a username at an address where it logged in within KNOWN_ADDRESS_S.
CHECK_SLOTS = 1
RESERVED_SLOTS = 1
RESERVED_WAIT_S = 10.0  # a known user waits this long at most for the reserved slot (it frees in < 1 s)
# Login throttling (see the module docstring): free failures per counter, then 2**k seconds.
FREE_FAILURES_PAIR = 3
FREE_FAILURES_ADDRESS = 10
FREE_FAILURES_ACCOUNT = 10
MAX_DELAY_S = 15 * 60
WINDOW_S = 24 * 3600
KNOWN_ADDRESS_S = 90 * 24 * 3600
_general_slots = threading.BoundedSemaphore(CHECK_SLOTS)
_reserved_slots = threading.BoundedSemaphore(RESERVED_SLOTS)
_check_s = [1.0]  # duration of the last password check (the "try again in N s" estimate)


def scrypt_memory_bytes(n: int | None = None, r: int | None = None) -> int:
    """Memory of one scrypt check: 128·r·N bytes (RFC 7914 §6, the V array of scryptROMix)."""
    return 128 * (r or SCRYPT_R) * (n or SCRYPT_N)


def _dummy_hash() -> str:
    """A hash of no password with the current parameters: unknown users cost one real check too."""
    return "scrypt${}${}${}$c2VjLWR1bW15LXNhbHQhIQ==${}".format(SCRYPT_N, SCRYPT_R, SCRYPT_P, base64.b64encode(bytes(32)).decode())


def _hash_parameters(stored: str) -> tuple[int, int, int] | None:
    try:
        scheme, n, r, p, _salt, _digest = stored.split("$")
        return (int(n), int(r), int(p)) if scheme == "scrypt" else None
    except ValueError:
        return None


def auth_mode() -> str:
    mode = os.environ.get("QC_AUTH", "off").strip().lower() or "off"
    if mode not in ("off", "password", "oidc"):
        raise ValueError(f"QC_AUTH must be off, password or oidc (got {mode!r})")
    return mode


def can(role: str | None, permission: str) -> bool:
    """Whether a role has a permission (roles are ordered: each includes the ones before it)."""
    if role not in ROLES:
        return False
    needed = PERMISSIONS[permission]
    return ROLES.index(role) >= ROLES.index(needed)


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("password too short (8 characters at least)")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=SCRYPT_MAXMEM, dklen=32)
    return "scrypt${}${}${}${}${}".format(
        SCRYPT_N, SCRYPT_R, SCRYPT_P, base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    )


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=SCRYPT_MAXMEM, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def _now() -> str:
    return dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")


def add_user(store, username: str, display_name: str, role: str, password: str | None, email: str = "", by: str = "") -> int:
    username = username.strip().lower()
    if not username or role not in ROLES:
        raise ValueError("a username and a role (operator, physicist, admin) are required")
    with store.write() as db:
        if db["users"].count_where("username = ?", [username]):
            raise ValueError(f"user {username!r} exists already")
        uid = db["users"].insert(
            {
                "username": username,
                "display_name": display_name.strip() or username,
                "email": email.strip().lower(),
                "role": role,
                "password_hash": hash_password(password) if password else "",
                "active": 1,
                "failed": 0,
                "locked_until": "",
                "created_at": _now(),
            }
        ).last_pk
        store._audit(by, "add_user", "users", uid, {"username": username, "role": role})
    return int(uid)


def update_user(store, username: str, by: str, *, role: str | None = None, active: bool | None = None, password: str | None = None) -> None:
    changes: dict = {}
    if role is not None:
        if role not in ROLES:
            raise ValueError("unknown role")
        changes["role"] = role
    if active is not None:
        changes["active"] = 1 if active else 0
    if password is not None:
        changes["password_hash"] = hash_password(password)
        changes["failed"] = 0
        changes["locked_until"] = ""
    with store.write() as db:
        rows = list(db.query("select id from users where username = ?", [username]))
        if not rows:
            raise ValueError(f"no user {username!r}")
        db["users"].update(rows[0]["id"], changes)
        if password is not None:
            # A new password ends the delays of this account (its failures no longer count).
            db["login_attempts"].insert({"at": time.time(), "username": username, "address": "", "outcome": "reset"})
        store._audit(by, "update_user", "users", rows[0]["id"], {k: v for k, v in changes.items() if k != "password_hash"}
                     | ({"password": "changed"} if password else {}))


def users(store) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "password_hash"} for r in store.db.query("select * from users order by username")]


def authenticate(store, username: str, password: str, address: str = "") -> tuple[dict | None, str]:
    """(user, "") when the password is right; (None, reason) otherwise: "wrong" (wrong password,
    unknown or deactivated user: one answer), "throttled" (too many recent failures: the password
    was not checked; `retry_after` says for how long) or "busy" (every check slot taken: not checked,
    not counted; `busy_retry_s` says when to try again).

    `address` is the client's network address as the web server saw it ("" when unknown).
    """
    username = username.strip().lower()[:128]
    address = (address or "").strip()[:64]
    slot = _take_check_slot(store, username, address)
    if slot is None:
        _busy_log.record(store.data_dir, time.time(), username, address)
        return None, "busy"
    try:
        return _authenticate_in_slot(store, username, password, address)
    finally:
        slot.release()


def _take_check_slot(store, username: str, address: str):
    """A free password-check slot (the semaphore to release), or None when all are taken.

    Anyone gets a general slot if one is free, at once; a username at an address where it logged in
    within KNOWN_ADDRESS_S may also wait (RESERVED_WAIT_S at most) for the reserved one."""
    if _general_slots.acquire(blocking=False):
        return _general_slots
    if _known_address(store.db, username, address, time.time()) and _reserved_slots.acquire(timeout=RESERVED_WAIT_S):
        return _reserved_slots
    return None


class _BusyLog:
    """The "busy" answers, written in batches by one thread: a burst of 200 refused attempts is a few
    write transactions instead of 200 (each a commit the admin's login would queue behind). Every one is
    written (row in login_attempts, outcome "busy", and an audit row); `flush()` waits for them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple] = []
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None

    def record(self, data_dir, at: float, username: str, address: str) -> None:
        with self._lock:
            self._pending.append((str(data_dir), at, username, address))
            self._idle.clear()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="qc-login-busy-log", daemon=True)
                self._thread.start()
        self._wake.set()

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until every recorded answer is written (tests, and a clean shutdown)."""
        return self._idle.wait(timeout_s)

    def _run(self) -> None:
        from qc.records.storage import Store

        stores: dict[str, Store] = {}
        while True:
            self._wake.wait(5.0)
            self._wake.clear()
            time.sleep(0.2)  # gather the rest of the burst into this batch
            with self._lock:
                batch, self._pending = self._pending, []
                if not batch:
                    self._idle.set()
                    continue
            by_dir: dict[str, list[tuple]] = {}
            for row in batch:
                by_dir.setdefault(row[0], []).append(row[1:])
            for data_dir, rows in by_dir.items():
                try:
                    store = stores.get(data_dir) or stores.setdefault(data_dir, Store(data_dir))
                    with store.write() as db:
                        db["login_attempts"].insert_all(
                            [{"at": at, "username": u, "address": a, "outcome": "busy"} for at, u, a in rows])
                        for _at, u, a in rows:
                            store._audit(u, "login_busy", "users", "", {"address": a})
                except Exception:  # noqa: BLE001 - the log thread must survive a busy or full disk
                    import logging

                    logging.getLogger(__name__).exception("%d busy login answers could not be written", len(rows))
            with self._lock:
                if not self._pending:
                    self._idle.set()


_busy_log = _BusyLog()


def busy_retry_s() -> int:
    """Seconds after which a check slot is likely free again (the last check's duration, at least 1 s)."""
    import math

    return max(1, math.ceil(_check_s[0]))


def _known_address(db, username: str, address: str, now: float) -> bool:
    """Whether this username logged in from this address within KNOWN_ADDRESS_S."""
    return bool(list(db.query(
        "select 1 from login_attempts where username = ? and address = ? and outcome = 'ok' and at >= ? limit 1",
        [username, address, now - KNOWN_ADDRESS_S],
    )))


def _authenticate_in_slot(store, username: str, password: str, address: str) -> tuple[dict | None, str]:
    now = time.time()
    with store.write() as db:
        # Decided and counted in one write transaction: a parallel guess sees this one.
        wait = _wait_seconds(db, username, address, now)
        rows = list(db.query("select * from users where username = ? and active = 1", [username]))
        user = rows[0] if rows else None
        if wait > 0:
            db["login_attempts"].insert({"at": now, "username": username, "address": address, "outcome": "throttled"})
            store._audit(username, "login_throttled", "users", user["id"] if user else "", {"address": address, "wait_s": round(wait)})
            return None, "throttled"
        attempt = db["login_attempts"].insert({"at": now, "username": username, "address": address, "outcome": "wrong"}).last_pk
    # The slow hash outside the lock; the attempt already counts as a failure until proven right.
    real = user is not None and bool(user["password_hash"])
    stored = user["password_hash"] if real else _dummy_hash()
    started = _monotonic()
    ok = verify_password(password, stored) and real
    _check_s[0] = _monotonic() - started
    rehashed = hash_password(password) if ok and _hash_parameters(stored) != (SCRYPT_N, SCRYPT_R, SCRYPT_P) else ""
    with store.write() as db:
        if ok:
            db["login_attempts"].update(attempt, {"outcome": "ok"})
            if rehashed:
                # The same password, hashed with today's parameters: the session tag (a hash of the
                # hash) is taken from the new row so the session stays valid.
                db["users"].update(user["id"], {"password_hash": rehashed})
                user = dict(user, password_hash=rehashed)
            store._audit(username, "login", "users", user["id"], {"address": address} | ({"rehashed": True} if rehashed else {}))
        else:
            # The delay runs from the end of the failed check, not from its start.
            db["login_attempts"].update(attempt, {"at": time.time()})
            store._audit(username, "login_failed", "users", user["id"] if user else "", {"address": address})
        db.execute("delete from login_attempts where at < ? and outcome != 'ok'", [now - WINDOW_S])
        db.execute("delete from login_attempts where at < ?", [now - KNOWN_ADDRESS_S])
    if not ok:
        return None, "wrong"
    return session_user(user), ""


def session_user(row: dict) -> dict:
    """What a browser session keeps of a user: the row without its hash, plus a tag of the
    password hash so that a password change ends the sessions opened with the old one."""
    out = {k: v for k, v in row.items() if k != "password_hash"}
    out["session_tag"] = hashlib.sha256(f"{row['id']}|{row.get('password_hash') or ''}".encode()).hexdigest()[:32]
    return out


def revalidate(store, user: dict | None) -> dict | None:
    """The session's user as the database has it now, or None when the account was deactivated,
    deleted or its password changed since the login (checked on every page run: the next click of
    a deactivated user shows the login form; a role change applies at once)."""
    if not user or "id" not in user:
        return None
    rows = list(store.db.query("select * from users where id = ? and active = 1", [user["id"]]))
    if not rows:
        return None
    fresh = session_user(rows[0])
    if fresh["session_tag"] != user.get("session_tag"):
        return None
    return fresh


def retry_after(store, username: str, address: str = "") -> int:
    """Seconds before the next attempt for this username from this address will be checked."""
    import math

    return math.ceil(_wait_seconds(store.db, username.strip().lower()[:128], (address or "").strip()[:64], time.time()))


def _delay_s(failures: int, free: int) -> float:
    """Growing delay: none for the first `free` failures, then 2 s, 4 s, 8 s … up to MAX_DELAY_S."""
    if failures < free:
        return 0.0
    return float(min(2 ** min(failures - free + 1, 30), MAX_DELAY_S))


def _failures_since_success(rows: list[dict]) -> list[dict]:
    """The failed attempts after the last success (or password reset) of these rows (time order)."""
    out: list[dict] = []
    for r in rows:
        if r["outcome"] in ("ok", "reset"):
            out = []
        elif r["outcome"] == "wrong":
            out.append(r)
    return out


def _wait_seconds(db, username: str, address: str, now: float) -> float:
    """How long this (username, address) must still wait, from the three counters."""
    since = now - WINDOW_S
    by_user = list(db.query("select at, address, outcome from login_attempts where username = ? and at >= ? order by at, id", [username, since]))
    by_addr = list(db.query("select at, outcome from login_attempts where address = ? and at >= ? order by at, id", [address, since]))
    pair = _failures_since_success([r for r in by_user if r["address"] == address or r["outcome"] == "reset"])
    from_addr = _failures_since_success([r for r in by_addr if r["outcome"] != "reset"])
    account = _failures_since_success(by_user)
    per_address: dict[str, int] = {}
    for r in account:
        per_address[r["address"]] = per_address.get(r["address"], 0) + 1
    account_n = sum(min(n, FREE_FAILURES_PAIR) for n in per_address.values())
    known = _known_address(db, username, address, now)
    waits = [0.0]
    if pair:
        waits.append(pair[-1]["at"] + _delay_s(len(pair), FREE_FAILURES_PAIR) - now)
    if from_addr:
        waits.append(from_addr[-1]["at"] + _delay_s(len(from_addr), FREE_FAILURES_ADDRESS) - now)
    if account and not known:
        waits.append(account[-1]["at"] + _delay_s(account_n, FREE_FAILURES_ACCOUNT) - now)
    return max(waits)


def user_by_email(store, email: str) -> dict | None:
    rows = list(store.db.query("select * from users where email = ? and active = 1", [email.strip().lower()]))
    return session_user(rows[0]) if rows else None
