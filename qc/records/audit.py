"""The audit log (table `audit`): who changed what, when, with the details (old and new values).

Every write of the records layer that changes the record adds its row inside its own transaction
(`Store._audit`), so a change and its audit row commit together or not at all. The users and the login
attempts are owned by `qc.records.auth`."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from qc.records.base import now_iso


class AuditMixin:
    """The audit rows of a `Store` (composed into `qc.records.storage.Store`)."""

    def _audit(self, user: str, action: str, entity: str, entity_id: Any, details: dict | None = None) -> None:
        self.db["audit"].insert(
            {
                "at": now_iso(),
                "user": user or "",
                "action": action,
                "entity": entity,
                "entity_id": str(entity_id) if entity_id is not None else "",
                "details": json.dumps(details or {}, ensure_ascii=False, default=str),
            }
        )

    def audit_frame(self, limit: int = 500) -> pd.DataFrame:
        return pd.read_sql_query("select * from audit order by id desc limit ?", self.db.conn, params=[limit])
