"""What is due: per machine and test, the last session, its result and the next due date.

Definitions: the next due date is the last acquisition date plus the test's period: daily → the
next working day (Saturday and Sunday skipped: daily checks are done on treatment days); weekly →
+7 days; monthly → same day next month, clamped to the month's last day (31 Jan → 28/29 Feb);
quarterly → +3 months; yearly → +12 months. A test never done is due now. Overdue = due before today.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from qc.spec import TestSpec


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar month addition, clamped to the last day of the target month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_due(last: dt.date | None, frequency: str, today: dt.date) -> dt.date:
    if last is None:
        return today
    if frequency == "daily":
        nxt = last + dt.timedelta(days=1)
        while nxt.weekday() >= 5:
            nxt += dt.timedelta(days=1)
        return nxt
    if frequency == "weekly":
        return last + dt.timedelta(days=7)
    if frequency == "monthly":
        return add_months(last, 1)
    if frequency == "quarterly":
        return add_months(last, 3)
    if frequency == "yearly":
        return add_months(last, 12)
    raise ValueError(f"unknown frequency {frequency!r}")


@dataclass
class DueRow:
    test: str
    name: str
    frequency: str
    last_done: dt.date | None
    last_status: str | None
    last_session_id: int | None
    next_due: dt.date
    overdue: bool
    days_overdue: int


def due_table(store, machine_id: int, tests: list[TestSpec], today: dt.date, lang: str = "fr") -> list[DueRow]:
    """Every test of a machine with its last result and next due date; overdue first, then by due date."""
    last = store.last_sessions(machine_id)
    rows = []
    for spec in tests:
        s = last.get(spec.key)
        last_day = dt.date.fromisoformat(s["acquired_at"][:10]) if s else None
        due = next_due(last_day, spec.frequency, today)
        overdue = due < today or last_day is None
        rows.append(
            DueRow(
                test=spec.key,
                name=spec.name(lang),
                frequency=spec.frequency,
                last_done=last_day,
                last_status=s["status"] if s else None,
                last_session_id=s["id"] if s else None,
                next_due=due,
                overdue=overdue,
                days_overdue=max(0, (today - due).days),
            )
        )
    rows.sort(key=lambda r: (not r.overdue, r.next_due, r.name))
    return rows
