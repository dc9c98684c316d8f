"""Stored choices of the control charts (tables of migration m009_spc): the baseline a physicist picked
for a series (a date range, or back to the default), and the proposed steps dismissed. Both are
dated, never edited in place (the latest row holds), and audited."""

from __future__ import annotations

import datetime as dt

from qc.errors import QCInputError
from qc.records.storage import Store, _date_iso, now_iso


def _day(value) -> str:
    text = _date_iso(value)[:10]
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise QCInputError("spc.err.date", value=text) from None
    return text


def set_spc_baseline(store: Store, machine_id: int, test: str, metric: str, item: str, date_from, date_to, user: str,
                     comment: str = "") -> int:
    """Pick the results between `date_from` and `date_to` (days, inclusive) as the series' baseline."""
    lo, hi = _day(date_from), _day(date_to)
    if hi < lo:
        raise QCInputError("spc.err.range", first=lo, last=hi)
    return _insert_baseline(store, {"machine_id": machine_id, "test": test, "metric": metric, "item": item or "", "kind": "range",
                                    "date_from": lo, "date_to": hi, "comment": (comment or "").strip()}, user)


def reset_spc_baseline(store: Store, machine_id: int, test: str, metric: str, item: str, user: str) -> int:
    """Back to the default baseline (first results after the latest machine event)."""
    return _insert_baseline(store, {"machine_id": machine_id, "test": test, "metric": metric, "item": item or "", "kind": "default",
                                    "date_from": "", "date_to": "", "comment": ""}, user)


def _insert_baseline(store: Store, row: dict, user: str) -> int:
    row = {**row, "created_by": user or "", "created_at": now_iso()}
    with store.write() as db:
        bid = db["spc_baselines"].insert(row).last_pk
        store._audit(user, "set_spc_baseline", "spc_baselines", bid, row)
    return int(bid)


def spc_baseline_for(store: Store, machine_id: int, test: str, metric: str, item: str = "") -> dict | None:
    """The picked baseline in force ({id, date_from, date_to, created_by, created_at, comment}), None for the default."""
    rows = list(store.db.query(
        "select * from spc_baselines where machine_id = ? and test = ? and metric = ? and item = ? order by created_at desc, id desc limit 1",
        [machine_id, test, metric, item or ""]))
    return dict(rows[0]) if rows and rows[0]["kind"] == "range" else None


def dismiss_step(store: Store, machine_id: int, test: str, metric: str, item: str, step_at, user: str, reason: str = "") -> int:
    """A physicist dismissed the step proposed at `step_at`: stored (and audited), never proposed again."""
    row = {"machine_id": machine_id, "test": test, "metric": metric, "item": item or "", "step_at": _day(step_at),
           "reason": (reason or "").strip(), "created_by": user or "", "created_at": now_iso()}
    with store.write() as db:
        did = db["spc_dismissals"].insert(row).last_pk
        store._audit(user, "dismiss_step", "spc_dismissals", did, row)
    return int(did)


def dismissed_steps(store: Store, machine_id: int, test: str, metric: str, item: str = "") -> list[str]:
    """Dates (YYYY-MM-DD) of the steps dismissed for this series."""
    return [r["step_at"] for r in store.db.query(
        "select step_at from spc_dismissals where machine_id = ? and test = ? and metric = ? and item = ? order by id",
        [machine_id, test, metric, item or ""])]
