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

Passwords are hashed with scrypt from Python's standard library (hashlib.scrypt, RFC 7914;
OWASP's recommended parameters N=2^17, r=8, p=1), with a random 16-byte salt, compared in
constant time. After 5 failed attempts a user is locked for 5 minutes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import secrets

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
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
MAX_FAILURES = 5
LOCK_MINUTES = 5


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
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=256 * 1024 * 1024, dklen=32)
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
                             maxmem=256 * 1024 * 1024, dklen=len(expected))
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
        store._audit(by, "update_user", "users", rows[0]["id"], {k: v for k, v in changes.items() if k != "password_hash"}
                     | ({"password": "changed"} if password else {}))


def users(store) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "password_hash"} for r in store.db.query("select * from users order by username")]


def authenticate(store, username: str, password: str) -> tuple[dict | None, str]:
    """(user, "") when the password is right; (None, reason) otherwise: "unknown", "locked", "wrong"."""
    username = username.strip().lower()
    rows = list(store.db.query("select * from users where username = ? and active = 1", [username]))
    if not rows:
        hash_password("timing-equaliser")  # an unknown user costs the same time as a wrong password
        return None, "unknown"
    user = rows[0]
    if user["locked_until"] and user["locked_until"] > _now():
        return None, "locked"
    ok = bool(user["password_hash"]) and verify_password(password, user["password_hash"])
    with store.write() as db:
        if ok:
            db["users"].update(user["id"], {"failed": 0, "locked_until": ""})
            store._audit(user["username"], "login", "users", user["id"], {})
        else:
            failed = (user["failed"] or 0) + 1
            lock = (dt.datetime.now() + dt.timedelta(minutes=LOCK_MINUTES)).replace(microsecond=0).isoformat(sep=" ") if failed >= MAX_FAILURES else ""
            db["users"].update(user["id"], {"failed": 0 if lock else failed, "locked_until": lock})
            store._audit(user["username"], "login_failed", "users", user["id"], {"locked": bool(lock)})
    if not ok:
        return None, "wrong"
    return {k: v for k, v in user.items() if k != "password_hash"}, ""


def user_by_email(store, email: str) -> dict | None:
    rows = list(store.db.query("select * from users where email = ? and active = 1", [email.strip().lower()]))
    return {k: v for k, v in rows[0].items() if k != "password_hash"} if rows else None
