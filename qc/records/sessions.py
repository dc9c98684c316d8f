"""The stored sessions, the record itself: `sessions` (one per QC session: test, machine, acquisition date and its
source, status, analyser and app versions, review state, voiding), `metrics` (one row per judged value with the
limits used), `files` (the input files, content-addressed under `files/<2 hex>/<sha256>`), `session_pictures`
(overlays and charts drawn once at storing), `comments`, and the monthly sign-off of a machine (`signoffs`).

A session is stored whole or not at all (`save_session`, one transaction with its audit row) and is never
erased: a correction voids it with a reason. Reading: one session, the frames of History, trends and reports."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

import pandas as pd

from qc.errors import QCInputError
from qc.records.base import RECORD_VERSION, _date_iso, _json_default, _next_day, _next_month, disk_error, now_iso
from qc.results import AnalysisResult, InputFile
from qc.spec import TestSpec
from qc.tolerances import Judged, session_status


class SessionsMixin:
    """Sessions, metrics, files, pictures, comments and sign-offs of a `Store` (composed into `qc.records.storage.Store`)."""

    # ------------------------------------------------------------ judging and saving

    def find_duplicates(self, files: list[InputFile]) -> list[dict]:
        """Stored, non-voided files with the same content hash or SOPInstanceUID as these."""
        found = []
        for f in files:
            rows = list(
                self.db.query(
                    "select f.filename, f.session_id, s.acquired_at, s.test from files f join sessions s on s.id = f.session_id "
                    "where s.voided = 0 and (f.sha256 = ? or (f.sop_instance_uid != '' and f.sop_instance_uid = ?)) limit 1",
                    [f.sha256, f.sop_instance_uid or "\0"],
                )
            )
            if rows:
                found.append({"upload": f.filename, **rows[0]})
        return found

    def _store_file(self, f: InputFile) -> str:
        """Write the file's bytes under files/<2 hex>/<sha256> (content-addressed: a rewrite is harmless)."""
        if f.data is None:
            return ""
        return self._store_bytes(f.sha256, f.data)

    def _store_bytes(self, sha256: str, data: bytes) -> str:
        """`data` (whose hash is `sha256`) under files/<2 hex>/<sha256>; returns its path in the data folder."""
        rel = Path("files") / sha256[:2] / sha256
        target = self.data_dir / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            # A temporary name of its own: two users storing the same file at once never share it.
            tmp = target.with_name(f"{target.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
            try:
                with open(tmp, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    # On disk before the session that refers to it commits (a power cut leaves no dangling row).
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise disk_error(exc) from exc
        return rel.as_posix()

    def file_bytes(self, stored_path: str) -> bytes | None:
        target = (self.data_dir / stored_path).resolve()
        if not stored_path or self.data_dir.resolve() not in target.parents or not target.exists():
            return None
        return target.read_bytes()

    def save_session(
        self,
        spec: TestSpec,
        result: AnalysisResult,
        machine_id: int,
        *,
        operator: str = "",
        comment: str = "",
        allow_duplicate: bool = False,
        keep_files: bool = True,
        is_demo: bool = False,
        cax_calibration_id: int | None = None,
        baseline_id: int | None = None,
        review_state: str = "",
        judged: list[Judged],
        pictures: list | None = None,
        app_version: str = "",
    ) -> int:
        """Store a judged session whole (session, metrics, files, pictures, audit) or nothing.

        `judged` is the pipeline's judgement (`qc.pipeline.judge`, the only place a session is judged): stored
        as it is, never judged again here. `pictures` (`qc.record.Picture`: overlays and charts drawn once)
        are stored as files of the content-addressed store; the session is marked as stored whole
        (`record_version`), so that its pages draw from it and never analyse its files again.

        `review_state="pending"` for a session analysed automatically (qc.intake): it stays out of
        History, trends and reports until a physicist confirms it (`review_session`).

        A file already stored in a non-voided session raises `DuplicateUploadError` unless
        `allow_duplicate` (the user was asked and confirmed).
        """
        from qc.errors import DuplicateUploadError

        acquired_at = _date_iso(result.acquired_at)  # required: raises before anything is written
        import hashlib

        stored_paths = [self._store_file(f) if keep_files else "" for f in result.files]
        pictures = list(pictures or [])
        picture_rows = []
        for i, p in enumerate(pictures):
            sha = hashlib.sha256(p.data).hexdigest()
            picture_rows.append({"position": i, "kind": p.kind, "title": p.title, "sha256": sha, "size": len(p.data),
                                 "stored_path": self._store_bytes(sha, p.data)})
        if cax_calibration_id is None:
            cax_calibration_id = result.params.get("cax_calibration_id")
        if baseline_id is None:
            baseline_id = result.params.get("baseline_id")
        with self.write() as db:
            # Checked inside the write transaction: two users uploading the same file at once
            # cannot both pass the check.
            if not allow_duplicate:
                dups = self.find_duplicates(result.files)
                if dups:
                    d = dups[0]
                    raise DuplicateUploadError(d["upload"], d["session_id"], d["acquired_at"])
            sid = db["sessions"].insert(
                {
                    "test": spec.key,
                    "machine_id": machine_id,
                    "acquired_at": acquired_at,
                    "acquired_at_source": result.acquired_at_source or result.params.get("acquired_at_source", ""),
                    "stored_at": now_iso(),
                    "operator": operator.strip(),
                    "comment": comment.strip(),
                    "status": session_status(judged, result.items),
                    "analyser_version": result.analyser_version,
                    "warnings": json.dumps(result.warnings, ensure_ascii=False),
                    "params": json.dumps(result.params, ensure_ascii=False, default=str),
                    "items": json.dumps(result.items, ensure_ascii=False, default=_json_default),
                    "cax_calibration_id": cax_calibration_id,
                    "baseline_id": baseline_id,
                    "voided": 0,
                    "is_demo": 1 if is_demo else 0,
                    "review_state": review_state,
                    "app_version": app_version,
                    "record_version": RECORD_VERSION,
                    "names": json.dumps(_names_of(spec), ensure_ascii=False),
                }
            ).last_pk
            if picture_rows:
                db["session_pictures"].insert_all({"session_id": sid, **r} for r in picture_rows)
            db["metrics"].insert_all(
                (
                    {
                        "session_id": sid,
                        "name": j.name,
                        "item": j.item,
                        "value": j.value,
                        "unit": j.unit,
                        "nominal": j.nominal,
                        "act_low": j.bounds[0] if j.bounds else None,
                        "tol_low": j.bounds[1] if j.bounds else None,
                        "tol_high": j.bounds[2] if j.bounds else None,
                        "act_high": j.bounds[3] if j.bounds else None,
                        "status": j.status,
                        "tolerance_id": j.tolerance_id,
                        "reference": j.reference,
                    }
                    for j in judged
                ),
                batch_size=500,
            )
            if result.files:
                db["files"].insert_all(
                    {
                        "session_id": sid,
                        "filename": f.filename,
                        "sha256": f.sha256,
                        "sop_instance_uid": f.sop_instance_uid,
                        "size": f.size,
                        "stored_path": p,
                    }
                    for f, p in zip(result.files, stored_paths)
                )
            self._audit(
                operator,
                "store_session",
                "sessions",
                sid,
                {"test": spec.key, "machine_id": machine_id, "n_metrics": len(judged), "duplicate_confirmed": allow_duplicate,
                 "review_state": review_state},
            )
        return int(sid)

    def session_pictures(self, session_id: int) -> list[dict]:
        """The pictures stored with a session (overlays, then charts, in the order drawn)."""
        return list(self.db.query("select * from session_pictures where session_id = ? order by position, id", [session_id]))

    def pending_reviews(self) -> list[dict]:
        """Sessions analysed automatically that wait for a physicist (oldest first)."""
        return [
            dict(r)
            for r in self.db.query(
                "select s.id, s.test, s.machine_id, m.name as machine, s.acquired_at, s.stored_at, s.status, s.operator "
                "from sessions s join machines m on m.id = s.machine_id where s.review_state = 'pending' and s.voided = 0 "
                "order by s.acquired_at, s.id"
            )
        ]

    def review_session(self, session_id: int, *, confirm: bool, user: str, reason: str = "") -> None:
        """A physicist confirms an automatically analysed session (it joins the record as it was judged), or
        rejects it with a reason (it is voided, never erased). Both are audited."""
        if not user.strip():
            raise QCInputError("err.review_user")
        if not confirm and not reason.strip():
            raise QCInputError("err.review_reason")
        with self.write() as db:
            row = db["sessions"].get(session_id)
            if row["review_state"] != "pending":
                raise QCInputError("err.review_not_pending", session=session_id)
            changes = {"review_state": "confirmed" if confirm else "rejected", "reviewed_by": user.strip(), "reviewed_at": now_iso(),
                       "review_reason": reason.strip()}
            if not confirm:
                changes.update({"voided": 1, "void_reason": reason.strip(), "voided_by": user.strip(), "voided_at": now_iso()})
            db["sessions"].update(session_id, changes)
            self._audit(user, "confirm_session" if confirm else "reject_session", "sessions", session_id, {"reason": reason.strip()})

    # ------------------------------------------------------------ corrections

    def void_session(self, session_id: int, reason: str, user: str) -> None:
        if not reason.strip():
            raise ValueError("a reason is required to void a session")
        with self.write() as db:
            s = db["sessions"].get(session_id)
            if s["voided"]:
                return
            db["sessions"].update(session_id, {"voided": 1, "void_reason": reason.strip(), "voided_by": user, "voided_at": now_iso()})
            self._audit(user, "void_session", "sessions", session_id, {"reason": reason.strip()})

    def add_comment(self, session_id: int, text: str, user: str) -> int:
        if not text.strip():
            raise ValueError("empty comment")
        with self.write() as db:
            cid = db["comments"].insert({"session_id": session_id, "at": now_iso(), "user": user, "text": text.strip()}).last_pk
            self._audit(user, "comment", "sessions", session_id, {"text": text.strip()})
        return int(cid)

    # ------------------------------------------------------------ monthly sign-off

    def sign_month(self, machine_id: int, month: str, user: str, comment: str = "") -> int:
        """A physicist signs a machine's month; later changes to that month are flagged, not blocked."""
        if not user.strip():
            raise ValueError("the signer's name is required")
        with self.write() as db:
            sid = db["signoffs"].insert(
                {"machine_id": machine_id, "month": month, "signed_by": user.strip(), "signed_at": now_iso(), "comment": comment.strip()}
            ).last_pk
            self._audit(user, "sign_month", "signoffs", sid, {"machine_id": machine_id, "month": month, "comment": comment.strip()})
        return int(sid)

    def signoffs(self, machine_id: int, month: str) -> list[dict]:
        return list(self.db.query("select * from signoffs where machine_id = ? and month = ? order by signed_at, id", [machine_id, month]))

    def changes_after_signoff(self, machine_id: int, month: str) -> list[dict]:
        """Sessions of a signed month stored, voided or commented after its latest signature."""
        signs = self.signoffs(machine_id, month)
        if not signs:
            return []
        signed_at = signs[-1]["signed_at"]
        first = f"{month}-01"
        nxt = _next_month(month)
        rows = self.db.query(
            "select s.id, s.test, s.acquired_at, s.stored_at, s.voided_at, s.void_reason, "
            "(select max(c.at) from comments c where c.session_id = s.id) as last_comment "
            "from sessions s where s.machine_id = ? and s.acquired_at >= ? and s.acquired_at < ? "
            "and (s.stored_at > ? or s.voided_at > ? or exists (select 1 from comments c where c.session_id = s.id and c.at > ?)) "
            "order by s.acquired_at",
            [machine_id, first, nxt, signed_at, signed_at, signed_at],
        )
        out = []
        for r in rows:
            what = []
            if r["stored_at"] and r["stored_at"] > signed_at:
                what.append("added")
            if r["voided_at"] and r["voided_at"] > signed_at:
                what.append("voided")
            if r["last_comment"] and r["last_comment"] > signed_at:
                what.append("commented")
            out.append({**dict(r), "changes": what, "signed_at": signed_at})
        return out

    def session_signoff_flag(self, session_id: int) -> dict | None:
        """The signature of the session's month when the session changed after it, else None."""
        s = self.db["sessions"].get(session_id)
        month = s["acquired_at"][:7]
        for change in self.changes_after_signoff(s["machine_id"], month):
            if change["id"] == session_id:
                return change
        return None

    def earliest_acquisition(self, machine_id: int | None = None) -> str | None:
        """The earliest stored session date (of a machine, else of any), e.g. to date a first calibration."""
        sql = "select min(acquired_at) as first from sessions where voided = 0"
        params: list = []
        if machine_id is not None:
            sql += " and machine_id = ?"
            params.append(machine_id)
        rows = list(self.db.query(sql, params))
        return rows[0]["first"] if rows and rows[0]["first"] else None

    # ------------------------------------------------------------ reading

    def session(self, session_id: int) -> dict:
        s = dict(self.db["sessions"].get(session_id))
        s["warnings"] = json.loads(s["warnings"] or "[]")
        s["params"] = json.loads(s["params"] or "{}")
        s["items"] = json.loads(s["items"] or "[]")
        s["names"] = json.loads(s.get("names") or "{}")
        s["machine"] = self.machine(s["machine_id"])["name"]
        s["metrics"] = list(self.db.query("select * from metrics where session_id = ? order by id", [session_id]))
        s["files"] = list(self.db.query("select * from files where session_id = ? order by id", [session_id]))
        s["comments"] = list(self.db.query("select * from comments where session_id = ? order by id", [session_id]))
        return s

    def sessions_frame(
        self,
        *,
        machine_id: int | None = None,
        test: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        include_voided: bool = False,
        status: list[str] | None = None,
    ) -> pd.DataFrame:
        where, params = self._filters(machine_id, test, date_from, date_to, include_voided, status, "s")
        sql = (
            "select s.id, s.test, m.name as machine, s.acquired_at, s.operator, s.comment, s.status, s.voided, "
            "s.void_reason, s.stored_at, s.is_demo from sessions s join machines m on m.id = s.machine_id"
            f"{where} order by s.acquired_at desc, s.id desc"
        )
        return pd.read_sql_query(sql, self.db.conn, params=params)

    def metrics_frame(
        self,
        *,
        machine_id: int | None = None,
        test: str | None = None,
        metric: str | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        include_voided: bool = False,
        status: list[str] | None = None,
    ) -> pd.DataFrame:
        """Every stored metric row with its session (the data of trends, exports and reports)."""
        where, params = self._filters(machine_id, test, date_from, date_to, include_voided, status, "s")
        if metric:
            where += (" and " if where else " where ") + "x.name = ?"
            params.append(metric)
        sql = (
            "select x.session_id, s.test, m.name as machine, s.acquired_at, s.operator, s.comment, s.voided, "
            "x.name as metric, x.item, x.value, x.unit, x.nominal, x.act_low, x.tol_low, x.tol_high, x.act_high, "
            "x.status, x.reference from metrics x join sessions s on s.id = x.session_id "
            f"join machines m on m.id = s.machine_id{where} order by s.acquired_at, x.session_id, x.id"
        )
        df = pd.read_sql_query(sql, self.db.conn, params=params)
        df["acquired_at"] = pd.to_datetime(df["acquired_at"])
        return df

    @staticmethod
    def _filters(machine_id, test, date_from, date_to, include_voided, status, alias) -> tuple[str, list]:
        clauses, params = [], []
        if machine_id is not None:
            clauses.append(f"{alias}.machine_id = ?")
            params.append(machine_id)
        if test:
            clauses.append(f"{alias}.test = ?")
            params.append(test)
        if date_from:
            clauses.append(f"{alias}.acquired_at >= ?")
            params.append(str(date_from))
        if date_to:
            clauses.append(f"{alias}.acquired_at < ?")
            params.append(_next_day(str(date_to)))
        if not include_voided:
            clauses.append(f"{alias}.voided = 0")
        # An automatically analysed session joins the record only once a physicist confirmed it.
        clauses.append(f"{alias}.review_state != 'pending'")
        if status:
            clauses.append(f"{alias}.status in ({','.join('?' * len(status))})")
            params.extend(status)
        return ((" where " + " and ".join(clauses)) if clauses else ""), params

    def metric_names(self, test: str, machine_id: int | None = None) -> list[str]:
        """Names of the metrics stored for a test (and machine), for the History filter."""
        sql = "select distinct x.name from metrics x join sessions s on s.id = x.session_id where s.test = ?"
        params: list = [test]
        if machine_id is not None:
            sql += " and s.machine_id = ?"
            params.append(machine_id)
        return [r["name"] for r in self.db.query(sql + " order by x.name", params)]

    def last_sessions(self, machine_id: int) -> dict[str, dict]:
        """Per test, the most recent non-voided session of a machine."""
        rows = self.db.query(
            "select s.* from sessions s join (select test, max(acquired_at) as last from sessions "
            "where machine_id = ? and voided = 0 and review_state != 'pending' group by test) l "
            "on l.test = s.test and l.last = s.acquired_at "
            "where s.machine_id = ? and s.voided = 0 and s.review_state != 'pending' order by s.id",
            [machine_id, machine_id],
        )
        return {r["test"]: dict(r) for r in rows}


def _names_of(spec: TestSpec) -> dict:
    """What a face needs to name a stored session without its analyser: the test's name and each metric's
    unit and labels, as they were when it was stored (see `qc.record.stored_spec`)."""
    return {"test": [spec.name_fr, spec.name_en, spec.frequency, spec.kind],
            "metrics": {m.name: [m.unit, m.label_fr, m.label_en, m.trend] for m in spec.metrics}}




# ------------------------------------------------------------ reads for the faces (functions taking a store)


def session_row(store, session_id: int) -> dict:
    """A session's row as stored (its JSON columns as text), without its metrics and files; raises when there is none."""
    return dict(store.db["sessions"].get(session_id))


def failing_metrics(store, session_id: int) -> list[dict]:
    """A session's metrics judged fail or warning (name, item, value, unit, status), in the order stored."""
    return [dict(r) for r in store.db.query(
        "select name, item, value, unit, status from metrics where session_id = ? and status in ('fail', 'warning') order by id",
        [session_id])]


def comments_of_sessions(store, session_ids: list[int]) -> list[dict]:
    """The comments (session_id, at, user, text) of these sessions, oldest first."""
    if not session_ids:
        return []
    marks = ",".join("?" * len(session_ids))
    return [dict(r) for r in store.db.query(
        f"select session_id, at, user, text from comments where session_id in ({marks}) order by at, id", [int(x) for x in session_ids])]


def sessions_count(store) -> int:
    """How many sessions are stored (voided and waiting for review included)."""
    return store.db["sessions"].count


def metrics_count(store) -> int:
    """How many metric rows are stored."""
    return store.db["metrics"].count


def latest_acquisition(store) -> str | None:
    """The latest acquisition date of any stored session (voided included), or None when there is none."""
    return next(iter(store.db.query("select max(acquired_at) as at from sessions")))["at"]


def session_file_hashes(store, session_id: int) -> list[str]:
    """The sha256 of every file stored with a session."""
    return [r["sha256"] for r in store.db.query("select sha256 from files where session_id = ?", [session_id])]


def sessions_of_days(store, machine_id: int, test: str, day_from: str, day_to: str) -> list[dict]:
    """Non-voided sessions (id, day, params) of a machine and test acquired between two days (inclusive), by id."""
    return [dict(r) for r in store.db.query(
        "select id, substr(acquired_at, 1, 10) as day, params from sessions where machine_id = ? and test = ? and voided = 0 "
        "and substr(acquired_at, 1, 10) between ? and ? order by id",
        [machine_id, test, day_from, day_to])]


def metric_values_of_sessions(store, session_ids: list[int]) -> dict[int, dict[str, float]]:
    """Per session, its metrics' values by name (read 500 sessions at a time)."""
    values: dict[int, dict[str, float]] = {int(i): {} for i in session_ids}
    ids = list(values)
    for k in range(0, len(ids), 500):
        chunk = ids[k:k + 500]
        for r in store.db.query(f"select session_id, name, value from metrics where session_id in ({','.join('?' * len(chunk))})", chunk):
            values[r["session_id"]][r["name"]] = r["value"]
    return values


def session_files_to_view(store, *, with_bytes: bool = True, limit: int = 500) -> list[dict]:
    """The newest stored files (stored_path, filename, sid, test, acquired_at): those kept in the data folder, or with
    `with_bytes=False` those stored without their bytes (the demo's older sessions, generated again when opened)."""
    kept = "f.stored_path != ''" if with_bytes else "f.stored_path = ''"
    return [dict(r) for r in store.db.query(
        "select f.stored_path, f.filename, s.id as sid, s.test, s.acquired_at from files f join sessions s on s.id = f.session_id "
        f"where {kept} order by s.acquired_at desc, f.id limit ?", [limit])]


def record_state_mark(store) -> tuple:
    """A mark that changes when a session is stored or voided or a tolerance is set (a cached plan is then stale)."""
    return tuple(store.db.execute("select (select count(*) || '-' || ifnull(max(id), 0) from sessions where voided = 0), "
                                  "(select ifnull(max(id), 0) from tolerances)").fetchone())
