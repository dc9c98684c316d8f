"""Settings (table `settings`: key → text value; each change a user makes is audited) and the e-mail alerts'
tables: `alert_subscriptions` (who receives which alert, for which machine and test) and `alert_log` (every
message sent or refused). What the alerts say and when they are sent is `qc.alerts`'s; this module only reads and
writes their rows."""

from __future__ import annotations

from qc.records.base import now_iso


class SettingsMixin:
    """The settings of a `Store` (composed into `qc.records.storage.Store`)."""

    # ------------------------------------------------------------ settings

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        rows = list(self.db.query("select value from settings where key = ?", [key]))
        return rows[0]["value"] if rows else default

    def set_setting(self, key: str, value: str, user: str = "") -> None:
        with self.write() as db:
            old = self.get_setting(key)
            db["settings"].upsert({"key": key, "value": value}, pk="key")
            self._audit(user, "set_setting", "settings", key, {"old": old, "new": value})

    def set_settings(self, values: dict[str, str], *, user: str, action: str, entity_id: str, details: dict) -> None:
        """Several settings and one audit row (`details` says what changed: never a secret's value), in one transaction."""
        with self.write() as db:
            for key, value in values.items():
                db["settings"].upsert({"key": key, "value": value}, pk="key")
            self._audit(user, action, "settings", entity_id, details)

    def set_setting_unaudited(self, key: str, value: str) -> None:
        """Bookkeeping of the app itself (when a digest was last sent, which definitions were seeded), not a
        user's setting: not audited."""
        with self.write() as db:
            db["settings"].upsert({"key": key, "value": value}, pk="key")


# ------------------------------------------------------------ e-mail alerts (what they say and when: qc.alerts)


def add_alert_subscription(store, user_id: int, kind: str, machine_id: int | None, test: str, by: str) -> int:
    """A user's subscription to `kind` alerts (for one machine and/or test, or every one); the existing one's id
    when the same is already there. Audited; checked and added in one transaction."""
    with store.write() as db:
        existing = list(db.query("select id from alert_subscriptions where user_id = ? and kind = ? and machine_id is ? and test = ?",
                                 [user_id, kind, machine_id, test or ""]))
        if existing:
            return int(existing[0]["id"])
        sid = db["alert_subscriptions"].insert({"user_id": user_id, "kind": kind, "machine_id": machine_id, "test": test or "",
                                                "created_by": by, "created_at": now_iso()}).last_pk
        store._audit(by, "subscribe_alert", "alert_subscriptions", sid, {"user_id": user_id, "alert": kind, "machine_id": machine_id, "test": test})
    return int(sid)


def delete_alert_subscription(store, subscription_id: int, by: str) -> None:
    """Remove a subscription; the audit row says whose and what it was."""
    with store.write() as db:
        row = db["alert_subscriptions"].get(subscription_id)
        db["alert_subscriptions"].delete(subscription_id)
        store._audit(by, "unsubscribe_alert", "alert_subscriptions", subscription_id,
                     {"user_id": row["user_id"], "alert": row["kind"], "machine_id": row["machine_id"], "test": row["test"]})


def alert_subscriptions(store) -> list[dict]:
    """Every subscription with its user's name and e-mail and its machine's name."""
    return [dict(r) for r in store.db.query(
        "select a.id, a.kind, a.test, a.machine_id, m.name as machine, u.id as user_id, u.username, u.display_name, u.email, u.active "
        "from alert_subscriptions a join users u on u.id = a.user_id left join machines m on m.id = a.machine_id order by u.username, a.kind, a.id")]


def alert_recipient_emails(store, kind: str, machine_id: int | None, test: str | None) -> set[str]:
    """E-mail addresses of the active users subscribed to `kind` for this machine and test."""
    rows = store.db.query(
        "select distinct u.email from alert_subscriptions a join users u on u.id = a.user_id where a.kind = ? and u.active = 1 "
        "and coalesce(u.email, '') != '' and (a.machine_id is null or a.machine_id = ?) and (a.test = '' or a.test = ?)",
        [kind, machine_id, test or ""])
    return {r["email"] for r in rows}


def alert_subscription_filters(store, kind: str) -> list[dict]:
    """(email, machine_id, test) of every active user's subscription to `kind` that has an e-mail address."""
    return [dict(r) for r in store.db.query(
        "select u.email, a.machine_id, a.test from alert_subscriptions a join users u on u.id = a.user_id "
        "where a.kind = ? and u.active = 1 and coalesce(u.email, '') != ''", [kind])]


def log_alert(store, kind: str, session_id: int | None, recipients: str, outcome: str, error: str = "") -> None:
    """One row of the alert log (a message sent or refused), written now."""
    with store.write() as db:
        db["alert_log"].insert({"at": now_iso(), "kind": kind, "session_id": session_id, "recipients": recipients, "outcome": outcome,
                                "error": error})


def alert_log_rows(store, limit: int = 50) -> list[dict]:
    """The newest rows of the alert log first."""
    return [dict(r) for r in store.db.query("select * from alert_log order by id desc limit ?", [limit])]
