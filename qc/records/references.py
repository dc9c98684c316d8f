"""What a result is judged against, dated and never edited in place (a change is a new row from its date on; the
old row stays for past results): tolerances (table `tolerances`), the beam-axis (CAX) calibrations (table
`calibrations`) and the baselines of a test (table `baselines`). A date is always required to look one up."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from qc.records.base import EPOCH, _date_iso, _json_default, now_iso
from qc.spec import Calibration, TestSpec
from qc.tolerances import Tolerance


class ReferencesMixin:
    """Tolerances, calibrations and baselines of a `Store` (composed into `qc.records.storage.Store`)."""

    # ------------------------------------------------------------ CAX calibrations

    def add_calibration(self, machine_id: int, u0: float, v0: float, valid_from: str, user: str = "", comment: str = "") -> int:
        with self.write() as db:
            cid = db["calibrations"].insert(
                {
                    "machine_id": machine_id,
                    "kind": "cax",
                    "u0": float(u0),
                    "v0": float(v0),
                    "valid_from": _date_iso(valid_from),
                    "created_by": user,
                    "created_at": now_iso(),
                    "comment": comment,
                }
            ).last_pk
            self._audit(user, "add_calibration", "calibrations", cid, {"machine_id": machine_id, "u0": u0, "v0": v0, "valid_from": valid_from})
        return int(cid)

    def calibration_for(self, machine_id: int, when: dt.datetime | dt.date | str) -> Calibration | None:
        """The CAX calibration in force on `when` (the latest valid_from not after it); a date is required."""
        at = _date_iso(when)
        rows = list(
            self.db.query(
                "select * from calibrations where machine_id = ? and kind = 'cax' and valid_from <= ? "
                "order by valid_from desc, id desc limit 1",
                [machine_id, at],
            )
        )
        if not rows:
            return None
        r = rows[0]
        return Calibration(u0=r["u0"], v0=r["v0"], valid_from=r["valid_from"], id=r["id"], comment=r["comment"] or "")

    def first_calibration(self, machine_id: int) -> Calibration | None:
        """The machine's earliest CAX calibration (None when it has none)."""
        rows = list(
            self.db.query(
                "select * from calibrations where machine_id = ? and kind = 'cax' order by valid_from, id limit 1", [machine_id]
            )
        )
        if not rows:
            return None
        r = rows[0]
        return Calibration(u0=r["u0"], v0=r["v0"], valid_from=r["valid_from"], id=r["id"], comment=r["comment"] or "")

    def latest_calibration(self, machine_id: int) -> Calibration | None:
        """The machine's most recent CAX calibration, whatever the date (for listing machines)."""
        rows = self.calibrations(machine_id)
        if not rows:
            return None
        r = rows[0]
        return Calibration(u0=r["u0"], v0=r["v0"], valid_from=r["valid_from"], id=r["id"], comment=r["comment"] or "")

    def calibrations(self, machine_id: int) -> list[dict]:
        return list(self.db.query("select * from calibrations where machine_id = ? order by valid_from desc, id desc", [machine_id]))

    # ------------------------------------------------------------ tolerances

    def seed_default_tolerances(self, tests: list[TestSpec]) -> int:
        """Insert each metric's default tolerance once (valid since 2000), so that it can be dated and changed."""
        n = 0
        with self.write() as db:
            have = {(r["test"], r["metric"]) for r in self.db.query("select distinct test, metric from tolerances")}
            for spec in tests:
                for m in spec.metrics:
                    if m.tolerance is None or (spec.key, m.name) in have:
                        continue
                    db["tolerances"].insert(self._tolerance_row(spec.key, m.name, m.unit, m.tolerance, None, EPOCH, "système", "défaut"))
                    have.add((spec.key, m.name))
                    n += 1
            if n:
                self._audit("système", "seed_tolerances", "tolerances", "", {"count": n})
        return n

    @staticmethod
    def _tolerance_row(test, metric, unit, tol: Tolerance, machine_id, valid_from, user, comment) -> dict:
        return {
            "test": test,
            "metric": metric,
            "machine_id": machine_id,
            **tol.as_row(),
            "unit": unit,
            "valid_from": _date_iso(valid_from),
            "created_by": user,
            "created_at": now_iso(),
            "comment": comment,
        }

    def set_tolerance(
        self,
        test: str,
        metric: str,
        tol: Tolerance,
        *,
        unit: str = "",
        machine_id: int | None = None,
        valid_from: str | dt.date | None = None,
        user: str = "",
        comment: str = "",
    ) -> int:
        """Record a new tolerance from `valid_from` on (the old one stays, for past results)."""
        if valid_from is None:
            valid_from = dt.date.today().isoformat()  # a change made now applies from today on, never to the past
        with self.write() as db:
            old = self.tolerance_for(test, metric, machine_id, valid_from)
            tid = db["tolerances"].insert(self._tolerance_row(test, metric, unit, tol, machine_id, valid_from, user, comment)).last_pk
            self._audit(
                user,
                "set_tolerance",
                "tolerances",
                tid,
                {"test": test, "metric": metric, "machine_id": machine_id, "old": old.as_row() if old else None, "new": tol.as_row(), "comment": comment},
            )
        return int(tid)

    def tolerance_for(self, test: str, metric: str, machine_id: int | None, when: dt.datetime | dt.date | str) -> Tolerance | None:
        """The tolerance in force on `when`: the machine's own if any, else the one for every machine.
        A date is required: a tolerance dated after it is never applied."""
        at = _date_iso(when)
        rows = list(
            self.db.query(
                "select * from tolerances where test = ? and metric = ? and (machine_id = ? or machine_id is null) "
                "and valid_from <= ? order by (machine_id is null), valid_from desc, id desc limit 1",
                [test, metric, machine_id, at],
            )
        )
        if not rows:
            return None
        r = rows[0]
        return Tolerance(
            act_low=r["act_low"],
            tol_low=r["tol_low"],
            tol_high=r["tol_high"],
            act_high=r["act_high"],
            nominal=r["nominal"],
            mode=r["mode"] or "absolute",
            reference=r["reference"] or "",
            id=r["id"],
        )

    def tolerances_frame(self, test: str | None = None) -> pd.DataFrame:
        sql = (
            "select t.*, m.name as machine from tolerances t left join machines m on m.id = t.machine_id"
            + (" where t.test = ?" if test else "")
            + " order by t.test, t.metric, t.valid_from desc, t.id desc"
        )
        return pd.read_sql_query(sql, self.db.conn, params=[test] if test else None)

    # ------------------------------------------------------------ baselines

    def set_baseline(self, machine_id: int, test: str, data: dict, session_id: int | None, user: str, valid_from: str | dt.datetime | None = None) -> int:
        """A new baseline valid from `valid_from` (default: the acquisition date of `session_id`)."""
        if valid_from is None and session_id is not None:
            valid_from = self.db["sessions"].get(session_id)["acquired_at"]
        valid_from = _date_iso(valid_from)
        with self.write() as db:
            bid = db["baselines"].insert(
                {
                    "machine_id": machine_id,
                    "test": test,
                    "data": json.dumps(data, default=_json_default),
                    "session_id": session_id,
                    "valid_from": valid_from,
                    "created_by": user,
                    "created_at": now_iso(),
                }
            ).last_pk
            self._audit(user, "set_baseline", "baselines", bid, {"machine_id": machine_id, "test": test, "session_id": session_id})
        return int(bid)

    def baseline_record_for(self, machine_id: int, test: str, when: dt.datetime | dt.date | str) -> dict | None:
        """The baseline in force on `when` as {id, valid_from, session_id, data}; a date is required."""
        at = _date_iso(when)
        rows = list(
            self.db.query(
                "select id, valid_from, session_id, data from baselines where machine_id = ? and test = ? and valid_from <= ? "
                "order by valid_from desc, id desc limit 1",
                [machine_id, test, at],
            )
        )
        if not rows:
            return None
        return {**dict(rows[0]), "data": json.loads(rows[0]["data"])}

    def baseline_for(self, machine_id: int, test: str, when: dt.datetime | dt.date | str) -> dict | None:
        """The baseline data in force on `when` (a date is required), or None."""
        rec = self.baseline_record_for(machine_id, test, when)
        return rec["data"] if rec else None
