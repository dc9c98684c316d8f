"""Settings (table `settings`: key → text value; each change a user makes is audited) and the e-mail alerts'
tables: `alert_subscriptions` (who receives which alert, for which machine and test) and `alert_log` (every
message sent or refused). What the alerts say and when they are sent is `qc.alerts`'s; this module only reads and
writes their rows."""

from __future__ import annotations



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
