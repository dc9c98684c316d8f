"""Review and signature of each stored result, and a reviewer's notes on one metric or item.

A physicist marks a session « Relu » (reviewed) or « Approuvé » (approved), with an optional comment.

The rule, by authentication mode (`QC_AUTH`, see qc.records.auth):
- `password` or `oidc`: the logged-in user signs under their own name; they must hold the "sign"
  permission (physicist or admin) and type their password again. The password goes through
  `auth.authenticate` (the login's own check: the same throttling, the same audit of failures), so the
  signature form is no easier a way to guess a password than the login form. A wrong password (or an
  account without a local password, as with single sign-on only) is refused: nothing is stored, the
  refusal is audited. The signature is stored `verified = 1`.
- `off` (local single-user run, no passwords): the signature carries the operator's typed name and is
  stored `verified = 0`; everywhere it is shown it says « non vérifiée par mot de passe ».

Signatures are never edited nor deleted (database triggers refuse it): a correction is a new signature
that supersedes the current one (its `supersedes` names it). A session's signature is its latest one.
A voided session, or one still waiting for the review of automatic intake, is not signed.
"""

from __future__ import annotations

from qc.errors import QCInputError

KINDS = ("reviewed", "approved")


def _now() -> str:
    from qc.records.storage import now_iso

    return now_iso()


def current_signature(store, session_id: int) -> dict | None:
    """The session's signature in force (its latest), or None when it was never signed."""
    rows = list(store.db.query("select * from session_signatures where session_id = ? order by id desc limit 1", [session_id]))
    return dict(rows[0]) if rows else None


def signatures(store, session_id: int) -> list[dict]:
    """Every signature of a session, oldest first, each with `superseded` (1 when a later one replaced it)."""
    rows = [dict(r) for r in store.db.query("select * from session_signatures where session_id = ? order by id", [session_id])]
    for i, r in enumerate(rows):
        r["superseded"] = int(i < len(rows) - 1)
    return rows


def current_signatures(store, session_ids) -> dict[int, dict]:
    """{session id: its signature in force} for the sessions that have one (one query)."""
    ids = sorted({int(i) for i in session_ids})
    if not ids:
        return {}
    out: dict[int, dict] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        rows = store.db.query(
            "select g.* from session_signatures g join (select session_id, max(id) as last from session_signatures "
            f"where session_id in ({','.join('?' * len(chunk))}) group by session_id) l on l.last = g.id",
            chunk,
        )
        out.update({int(r["session_id"]): dict(r) for r in rows})
    return out


def signature_text(sig: dict | None, lang: str) -> str:
    """One plain-text phrase for a signature: « Approuvé par A. Martin le 2026-03-02 10:14 » (+ « non vérifiée
    par mot de passe » when it was not), or « À signer » when there is none."""
    from qc.i18n import t

    if not sig:
        return t("sig.none", lang)
    text = t("sig.by", lang, kind=t(f"sig.kind.{sig['kind']}", lang), name=sig["signer"], at=str(sig["signed_at"])[:16])
    if not sig.get("verified"):
        text += " " + t("sig.unverified", lang)
    return text


def sign_session(store, session_id: int, kind: str, *, signer: str, username: str = "", verified: bool, comment: str = "") -> int:
    """Store a signature (the caller has checked who signs: see `sign`); it supersedes the current one. Audited."""
    if kind not in KINDS:
        raise QCInputError("sig.err.kind", kind=kind)
    signer = (signer or "").strip()
    if not signer:
        raise QCInputError("sig.err.name")
    with store.write() as db:
        rows = list(db.query("select voided, review_state from sessions where id = ?", [session_id]))
        if not rows:
            raise QCInputError("sig.err.no_session", session=session_id)
        if rows[0]["voided"]:
            raise QCInputError("sig.err.voided", session=session_id)
        if rows[0]["review_state"] == "pending":
            raise QCInputError("sig.err.pending", session=session_id)
        before = current_signature(store, session_id)
        row = {"session_id": session_id, "kind": kind, "signer": signer, "username": username or "", "verified": int(bool(verified)),
               "signed_at": _now(), "comment": (comment or "").strip(), "supersedes": before["id"] if before else None}
        gid = db["session_signatures"].insert(row).last_pk
        store._audit(signer, "sign_session", "sessions", session_id,
                     {"signature": kind, "signature_id": gid, "verified": bool(verified), "comment": row["comment"], "supersedes": row["supersedes"]})
    return int(gid)


def sign(store, session_id: int, kind: str, *, user: dict | None, typed_name: str = "", password: str = "", comment: str = "",
         address: str = "") -> tuple[int | None, str]:
    """Sign by the rule of the module docstring. (signature id, "") when stored; (None, reason) when refused:
    "name" (no typed name, authentication off), "role" (not allowed to sign), "wrong" (wrong password),
    "throttled" (too many recent failures: the password was not checked)."""
    from qc.records import auth

    if auth.auth_mode() == "off":
        if not (typed_name or "").strip():
            return None, "name"
        return sign_session(store, session_id, kind, signer=typed_name, verified=False, comment=comment), ""
    if not user or not auth.can(user.get("role"), "sign"):
        with store.write():
            store._audit((user or {}).get("username", ""), "sign_refused", "sessions", session_id, {"reason": "role"})
        return None, "role"
    checked, reason = auth.authenticate(store, user["username"], password or "", address)
    if checked is None or checked.get("id") != user.get("id"):
        with store.write():
            store._audit(user["username"], "sign_refused", "sessions", session_id, {"reason": reason or "wrong", "address": address})
        return None, reason or "wrong"
    name = checked.get("display_name") or checked["username"]
    return sign_session(store, session_id, kind, signer=name, username=checked["username"], verified=True, comment=comment), ""


def awaiting_signature(store, limit: int | None = None) -> list[dict]:
    """Results waiting for a signature, newest first: stored since signatures exist (the m010 upgrade), not voided,
    not waiting for the intake review, never signed."""
    since = store.get_setting("signatures.required_since", "") or ""
    sql = ("select s.id, s.test, s.machine_id, m.name as machine, s.acquired_at, s.stored_at, s.status, s.operator "
           "from sessions s join machines m on m.id = s.machine_id where s.voided = 0 and s.review_state != 'pending' "
           "and s.stored_at >= ? and not exists (select 1 from session_signatures g where g.session_id = s.id) "
           "order by s.acquired_at desc, s.id desc")
    params: list = [since]
    if limit is not None:
        sql += " limit ?"
        params.append(int(limit))
    return [dict(r) for r in store.db.query(sql, params)]


def count_awaiting_signature(store) -> int:
    since = store.get_setting("signatures.required_since", "") or ""
    rows = list(store.db.query(
        "select count(*) as n from sessions s where s.voided = 0 and s.review_state != 'pending' and s.stored_at >= ? "
        "and not exists (select 1 from session_signatures g where g.session_id = s.id)", [since]))
    return int(rows[0]["n"])


def add_leaf_comment(store, session_id: int, metric: str, item: str, text: str, user: str) -> int:
    """A reviewer's note on one metric (and item) of a session; audited, never edited."""
    text = (text or "").strip()
    if not text:
        raise QCInputError("sig.err.empty_note")
    if not (user or "").strip():
        raise QCInputError("sig.err.name")
    with store.write() as db:
        if not db["metrics"].count_where("session_id = ? and name = ? and coalesce(item, '') = ?", [session_id, metric, item or ""]):
            raise QCInputError("sig.err.no_leaf", metric=metric, item=item or "—")
        cid = db["leaf_comments"].insert({"session_id": session_id, "metric": metric, "item": item or "", "at": _now(),
                                          "user": user.strip(), "text": text}).last_pk
        test = db["sessions"].get(session_id)["test"]  # names the metric in the audit view
        store._audit(user, "leaf_comment", "sessions", session_id, {"test": test, "metric": metric, "item": item or "", "text": text})
    return int(cid)


def leaf_comments(store, session_id: int) -> list[dict]:
    return [dict(r) for r in store.db.query("select * from leaf_comments where session_id = ? order by id", [session_id])]


def sessions_unsigned_before(store, before: str) -> list[dict]:
    """Non-voided, reviewed sessions (id, status, acquired_at) acquired before `before` that were never signed, oldest first."""
    return [dict(r) for r in store.db.query(
        "select id, status, acquired_at from sessions where voided = 0 and review_state != 'pending' and acquired_at < ? "
        "and id not in (select session_id from session_signatures) order by acquired_at, id", [before])]


def any_leaf_comment(store) -> bool:
    """Whether any note on one leaf (one metric or item) is stored."""
    return bool(next(iter(store.db.query("select count(*) as n from leaf_comments")))["n"])
