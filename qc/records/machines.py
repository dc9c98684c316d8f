"""Machines (table `machines`: name, the StationName and DeviceSerialNumber that identify a received image) and
their events (table `machine_events`: service, upgrade, recalibration, MLC change; drawn on every trend, drift
restarts after them)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from qc.config import EVENT_KINDS  # kept in qc.config for the command line's parser (no pandas)
from qc.errors import QCInputError
from qc.records.base import _date_iso, _next_day, now_iso


class MachinesMixin:
    """Machines and machine events of a `Store` (composed into `qc.records.storage.Store`)."""

    # ------------------------------------------------------------ machines

    def machines(self, active_only: bool = True) -> list[dict]:
        sql = "select * from machines" + (" where active = 1" if active_only else "") + " order by name"
        return list(self.db.query(sql))

    def machine(self, machine_id: int) -> dict:
        return self.db["machines"].get(machine_id)

    def machine_by_name(self, name: str) -> dict | None:
        rows = list(self.db.query("select * from machines where name = ?", [name]))
        return rows[0] if rows else None

    def add_machine(self, name: str, station_name: str = "", device_serial: str = "", model: str = "", user: str = "") -> int:
        name = name.strip()
        if not name:
            raise ValueError("machine name is empty")
        with self.write() as db:
            existing = self.machine_by_name(name)
            if existing:
                return existing["id"]
            mid = db["machines"].insert(
                {
                    "name": name,
                    "station_name": station_name,
                    "device_serial": device_serial,
                    "model": model,
                    "created_at": now_iso(),
                    "active": 1,
                }
            ).last_pk
            self._audit(user, "add_machine", "machines", mid, {"name": name, "station": station_name, "serial": device_serial})
        return int(mid)

    def machine_for_identity(self, station_name: str, device_serial: str) -> dict | None:
        """The machine whose StationName or DeviceSerialNumber matches the image header."""
        for m in self.machines():
            if (device_serial and m["device_serial"] == device_serial) or (station_name and m["station_name"] == station_name):
                return m
        return None

    def resolve_machine(self, name: str | None) -> dict:
        if name is None:
            ms = self.machines()
            if len(ms) == 1:
                return ms[0]
            raise QCInputError("err.unknown_machine", machine="", known=", ".join(m["name"] for m in ms) or "—")
        m = self.machine_by_name(name)
        if m is None:
            raise QCInputError("err.unknown_machine", machine=name, known=", ".join(x["name"] for x in self.machines()) or "—")
        return m

    # ------------------------------------------------------------ machine events

    def add_event(self, machine_id: int, occurred_at: dt.datetime | dt.date | str, kind: str, note: str = "", user: str = "") -> int:
        """Record a machine event (service, upgrade, recalibration, MLC change...), audited."""
        if kind not in EVENT_KINDS:
            raise QCInputError("event.err.kind", kind=kind, kinds=", ".join(EVENT_KINDS))
        when = _date_iso(occurred_at)
        try:
            parsed = dt.datetime.fromisoformat(when)
        except ValueError:
            raise QCInputError("event.err.date", value=when) from None
        if parsed > dt.datetime.now() + dt.timedelta(days=1):
            raise QCInputError("event.err.future", value=when)
        if not self.db["machines"].count_where("id = ?", [machine_id]):
            raise QCInputError("event.err.machine", machine=str(machine_id))
        row = {"machine_id": machine_id, "occurred_at": when, "kind": kind, "note": (note or "").strip(), "created_by": user or "",
               "created_at": now_iso()}
        with self.write() as db:
            eid = db["machine_events"].insert(row).last_pk
            self._audit(user, "add_event", "machine_events", eid, row)
        return int(eid)

    def events(self, machine_id: int | None = None, date_from: str | None = None, date_to: str | None = None) -> pd.DataFrame:
        """Machine events (oldest first): id, machine_id, machine, occurred_at (datetime), kind, note, created_by."""
        where, params = ["1 = 1"], []
        if machine_id is not None:
            where.append("e.machine_id = ?")
            params.append(machine_id)
        if date_from:
            where.append("e.occurred_at >= ?")
            params.append(date_from)
        if date_to:
            where.append("e.occurred_at < ?")
            params.append(_next_day(date_to) if len(date_to) == 10 else date_to)
        rows = list(self.db.query(
            "select e.id, e.machine_id, m.name as machine, e.occurred_at, e.kind, e.note, e.created_by from machine_events e "
            f"join machines m on m.id = e.machine_id where {' and '.join(where)} order by e.occurred_at, e.id", params))
        df = pd.DataFrame(rows, columns=["id", "machine_id", "machine", "occurred_at", "kind", "note", "created_by"])
        df["occurred_at"] = pd.to_datetime(df["occurred_at"])
        return df
