"""The QC database (SQLite through sqlite-utils): schema, migrations, and every read and write.

Owns: machines, dated CAX calibrations, dated tolerances (never edited in place), QC sessions with
one row per measured metric (value, unit, limits used, status), the stored input files (by content
hash, with SOPInstanceUID), baselines, settings, data-defined logged tests, and the audit log of
every change. The schema is versioned with sqlite-utils migrations and migrated forward in place
on open; a user's history is never dropped by an upgrade.

Concurrency: WAL, a busy timeout, one connection per `Store` (open one per Streamlit script run),
and every multi-row write inside `BEGIN IMMEDIATE` (a deferred transaction can fail at once with
"database is locked" even with a busy timeout; see stack-notes §7). A failed write rolls back
entirely: a session is stored whole or not at all.

Disk and database errors (disk full, read-only folder, I/O error, database busy too long) become a
`StorageError`: one sentence for the page's error box and the CLI's exit 2, never a traceback.
Stored files are written under a temporary `.part` name then renamed; a failed write removes its
`.part`, and the `.part` files of writers that died (kill -9, power cut) are swept when a store
is opened.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import os
import secrets
import sqlite3
import sys
import time
import threading
from pathlib import Path
from typing import Any, Iterator

import pandas as pd
from sqlite_utils import Database, Migrations

from qc.config import data_dir as default_data_dir
from qc.config import EVENT_KINDS  # the kinds of machine event, kept in qc.config for the command line's parser (no pandas)
from qc.config import db_path
from qc.errors import QCInputError
from qc.spec import Calibration, TestSpec
from qc.results import AnalysisResult, InputFile
from qc.tolerances import Judged, Tolerance, session_status

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 15000
EPOCH = "2000-01-01"

migrations = Migrations("mrlinac-qc")
PART_STALE_S = 600  # a .part file older than this is a dead writer's, whatever its process id says


class StorageError(QCInputError):
    """A write the data folder or the database refused: one sentence, with the reason in the
    reader's language (disk full, write access denied, input/output error, database busy)."""

    def __init__(self, key: str, reason_key: str) -> None:
        self.reason_key = reason_key
        super().__init__(key, reason=reason_key)

    def message(self, lang: str = "fr") -> str:
        from qc.i18n import t

        return t(self.key, lang, reason=t(self.reason_key, lang))


def disk_error(exc: OSError) -> StorageError:
    """The sentence for a failed file write."""
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        reason = "err.disk_full"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        reason = "err.disk_readonly"
    elif exc.errno in (errno.ENOENT, errno.ENOTDIR):
        reason = "err.disk_missing"
    else:
        reason = "err.disk_io"
    return StorageError("err.disk", reason)


def database_error(exc: sqlite3.Error) -> StorageError:
    """The sentence for a failed database write (SQLite's own wording mapped to a reason)."""
    text = str(exc).lower()
    if "full" in text:
        reason = "err.disk_full"
    elif "readonly" in text or "read-only" in text:
        reason = "err.disk_readonly"
    elif "locked" in text or "busy" in text:
        reason = "err.db_busy"
    else:
        reason = "err.disk_io"
    return StorageError("err.database", reason)


def _converts(exc: BaseException) -> bool:
    """SQLite errors that come from the disk or from other writers, not from a bug in a query."""
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError


@migrations()
def m001_initial(db: Database) -> None:
    db["machines"].create(
        {
            "id": int,
            "name": str,
            "station_name": str,
            "device_serial": str,
            "model": str,
            "created_at": str,
            "active": int,
        },
        pk="id",
        not_null={"name"},
        defaults={"active": 1, "station_name": "", "device_serial": "", "model": ""},
    )
    db["machines"].create_index(["name"], unique=True)
    db["calibrations"].create(
        {
            "id": int,
            "machine_id": int,
            "kind": str,
            "u0": float,
            "v0": float,
            "valid_from": str,
            "created_by": str,
            "created_at": str,
            "comment": str,
        },
        pk="id",
        foreign_keys=[("machine_id", "machines", "id")],
    )
    db["tolerances"].create(
        {
            "id": int,
            "test": str,
            "metric": str,
            "machine_id": int,  # NULL: every machine
            "act_low": float,
            "tol_low": float,
            "tol_high": float,
            "act_high": float,
            "nominal": float,
            "mode": str,
            "unit": str,
            "reference": str,
            "valid_from": str,
            "created_by": str,
            "created_at": str,
            "comment": str,
        },
        pk="id",
        foreign_keys=[("machine_id", "machines", "id")],
    )
    db["tolerances"].create_index(["test", "metric", "valid_from"])
    db["sessions"].create(
        {
            "id": int,
            "test": str,
            "machine_id": int,
            "acquired_at": str,
            "stored_at": str,
            "operator": str,
            "comment": str,
            "status": str,
            "analyser_version": str,
            "warnings": str,  # JSON list
            "params": str,  # JSON
            "items": str,  # JSON list: the per-item table
            "cax_calibration_id": int,
            "voided": int,
            "void_reason": str,
            "voided_by": str,
            "voided_at": str,
            "is_demo": int,
        },
        pk="id",
        foreign_keys=[("machine_id", "machines", "id"), ("cax_calibration_id", "calibrations", "id")],
        defaults={"voided": 0, "is_demo": 0},
    )
    db["sessions"].create_index(["machine_id", "test", "acquired_at"])
    db["metrics"].create(
        {
            "id": int,
            "session_id": int,
            "name": str,
            "item": str,
            "value": float,
            "unit": str,
            "nominal": float,
            "act_low": float,
            "tol_low": float,
            "tol_high": float,
            "act_high": float,
            "status": str,
            "tolerance_id": int,
            "reference": str,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id"), ("tolerance_id", "tolerances", "id")],
    )
    db["metrics"].create_index(["session_id"])
    db["metrics"].create_index(["name", "item"])
    db["files"].create(
        {
            "id": int,
            "session_id": int,
            "filename": str,
            "sha256": str,
            "sop_instance_uid": str,
            "size": int,
            "stored_path": str,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db["files"].create_index(["sha256"])
    db["files"].create_index(["sop_instance_uid"])
    db["comments"].create(
        {"id": int, "session_id": int, "at": str, "user": str, "text": str},
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db["baselines"].create(
        {
            "id": int,
            "machine_id": int,
            "test": str,
            "data": str,
            "session_id": int,
            "valid_from": str,
            "created_by": str,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("machine_id", "machines", "id"), ("session_id", "sessions", "id")],
    )
    db["logged_tests"].create(
        {"key": str, "definition": str, "created_by": str, "created_at": str, "active": int},
        pk="key",
        defaults={"active": 1},
    )
    db["settings"].create({"key": str, "value": str}, pk="key")
    db["audit"].create(
        {"id": int, "at": str, "user": str, "action": str, "entity": str, "entity_id": str, "details": str},
        pk="id",
    )
    db["audit"].create_index(["entity", "entity_id"])


@migrations()
def m002_signoffs(db: Database) -> None:
    """Monthly sign-off of a machine's QC by a physicist (issue: reports)."""
    db["signoffs"].create(
        {"id": int, "machine_id": int, "month": str, "signed_by": str, "signed_at": str, "comment": str},
        pk="id",
        foreign_keys=[("machine_id", "machines", "id")],
    )
    db["signoffs"].create_index(["machine_id", "month"])


@migrations()
def m003_users(db: Database) -> None:
    """Users and roles for the shared server (qc.records.auth)."""
    db["users"].create(
        {
            "id": int,
            "username": str,
            "display_name": str,
            "email": str,
            "role": str,
            "password_hash": str,
            "active": int,
            "failed": int,
            "locked_until": str,
            "created_at": str,
        },
        pk="id",
        defaults={"active": 1, "failed": 0},
    )
    db["users"].create_index(["username"], unique=True)


@migrations()
def m004_provenance(db: Database) -> None:
    """What judged a session: the baseline used (`baseline_id`; `cax_calibration_id` exists since
    m001 and is now written) and where its acquisition date came from (`acquired_at_source`: a header
    tag, "user" or "report"). Added in place: existing sessions keep every row, their new columns empty."""
    cols = db["sessions"].columns_dict
    if "baseline_id" not in cols:
        db["sessions"].add_column("baseline_id", int)
    if "acquired_at_source" not in cols:
        db["sessions"].add_column("acquired_at_source", str)


@migrations()
def m005_machine_events(db: Database) -> None:
    """Machine events (service, upgrade, recalibration, MLC change) drawn on every trend; drift restarts after them."""
    db["machine_events"].create(
        {"id": int, "machine_id": int, "occurred_at": str, "kind": str, "note": str, "created_by": str, "created_at": str},
        pk="id",
        foreign_keys=[("machine_id", "machines", "id")],
        defaults={"note": "", "created_by": ""},
    )
    db["machine_events"].create_index(["machine_id", "occurred_at"])


@migrations()
def m006_login_attempts(db: Database) -> None:
    """Every login attempt with the client address (qc.records.auth): the throttling per account,
    per address and per account-and-address is counted from these rows inside the write
    transaction that records the attempt."""
    db["login_attempts"].create(
        {"id": int, "at": float, "username": str, "address": str, "outcome": str},
        pk="id",
        not_null={"at", "username", "address", "outcome"},
    )
    db["login_attempts"].create_index(["username", "at"])
    db["login_attempts"].create_index(["address", "at"])


@migrations()
def m007_intake(db: Database) -> None:
    """Automatic intake (qc.intake): objects received over DICOM or from a watched folder wait in `inbox`
    until their session is complete; sessions analysed automatically wait for a physicist's review
    (`review_state` 'pending' → 'confirmed' or 'rejected'). Sessions stored before this migration, and every
    upload, are '' (stored by a person: nothing to review)."""
    db["inbox"].create(
        {
            "id": int,
            "sha256": str,
            "path": str,
            "size": int,
            "sop_instance_uid": str,
            "sop_class_uid": str,
            "received_at": str,
            "source": str,  # "dicom AE@address", "dossier", "orthanc URL"
            "station_name": str,
            "device_serial": str,
            "acquired_at": str,
            "label": str,  # what routing read (patient/study/label/series text)
            "modality": str,
            "study_uid": str,
            "machine_id": int,
            "test": str,
            "group_id": int,
            "state": str,  # waiting, analysed, unassigned, failed, ignored
            "reason": str,
            "session_id": int,
        },
        pk="id",
        defaults={"state": "waiting", "reason": ""},
    )
    db["inbox"].create_index(["sop_instance_uid"])
    db["inbox"].create_index(["state"])
    db["inbox"].create_index(["sha256"])
    db["sessions"].add_column("review_state", str, not_null_default="")
    db["sessions"].add_column("reviewed_by", str)
    db["sessions"].add_column("reviewed_at", str)
    db["sessions"].add_column("review_reason", str)


@migrations()
def m008_record(db: Database) -> None:
    """The stored session is the record (issue #25): what is needed to show it is stored with it, once.

    - `sessions.app_version`: the app's version beside `analyser_version` (now the analyser's own `VERSION`);
    - `sessions.record_version`: 1 for a session stored whole (pictures included); NULL for the sessions stored
      before, whose pictures were not kept (their pages say so, they are never re-analysed to be shown);
    - `session_pictures`: the overlays (PNG) and charts (Vega-Lite JSON) drawn when the session was stored,
      as files of the content-addressed store `files/<2 hex>/<sha256>`, in the order they are shown."""
    cols = db["sessions"].columns_dict
    if "app_version" not in cols:
        db["sessions"].add_column("app_version", str)
    if "record_version" not in cols:
        db["sessions"].add_column("record_version", int)
    if "names" not in cols:  # the test's and metrics' names (fr, en) when stored: shown even if the test is gone
        db["sessions"].add_column("names", str)
    db["session_pictures"].create(
        {"id": int, "session_id": int, "position": int, "kind": str, "title": str, "sha256": str, "size": int, "stored_path": str},
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
        if_not_exists=True,
    )
    db["session_pictures"].create_index(["session_id"], if_not_exists=True)


RECORD_VERSION = 1  # what `sessions.record_version` says of a session stored with its pictures (m008)


@migrations()
def m009_spc(db: Database) -> None:
    """Control charts (qc.reporting.spc, qc.records.spc_records): the baseline a physicist picked for a series
    (a date range, dated and audited like a tolerance, never edited: the latest row holds; `kind` 'range' or
    'default' back to the first 20 results after the latest event), and the proposed steps a physicist
    dismissed (never proposed again)."""
    db["spc_baselines"].create(
        {"id": int, "machine_id": int, "test": str, "metric": str, "item": str, "kind": str, "date_from": str, "date_to": str,
         "comment": str, "created_by": str, "created_at": str},
        pk="id", foreign_keys=[("machine_id", "machines", "id")], defaults={"item": "", "comment": "", "created_by": ""},
    )
    db["spc_baselines"].create_index(["machine_id", "test", "metric", "item"])
    db["spc_dismissals"].create(
        {"id": int, "machine_id": int, "test": str, "metric": str, "item": str, "step_at": str, "reason": str,
         "created_by": str, "created_at": str},
        pk="id", foreign_keys=[("machine_id", "machines", "id")], defaults={"item": "", "reason": "", "created_by": ""},
    )
    db["spc_dismissals"].create_index(["machine_id", "test", "metric", "item"])


@migrations()
def m010_signatures_alerts(db: Database) -> None:
    """Review and signature of each result, notes on one leaf, e-mail alerts (qc.records.signatures, qc.alerts).

    `session_signatures` is never edited nor deleted (triggers refuse it): a correction is a new row whose
    `supersedes` names the row it replaces. `verified` is 1 when the signer typed their password again, 0
    when authentication is off (the operator's typed name). Sessions stored before this migration are not
    listed as waiting for a signature (`signatures.required_since`)."""
    db["session_signatures"].create(
        {"id": int, "session_id": int, "kind": str, "signer": str, "username": str, "verified": int, "signed_at": str,
         "comment": str, "supersedes": int},
        pk="id",
        not_null={"session_id", "kind", "signer", "signed_at"},
        defaults={"verified": 0, "comment": "", "username": ""},
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db["session_signatures"].create_index(["session_id"])
    for op in ("update", "delete"):
        db.execute(f"create trigger session_signatures_no_{op} before {op} on session_signatures "
                   "begin select raise(abort, 'a signature is never edited: sign again to supersede it'); end")
    db["leaf_comments"].create(
        {"id": int, "session_id": int, "metric": str, "item": str, "at": str, "user": str, "text": str},
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db["leaf_comments"].create_index(["session_id"])
    db["alert_subscriptions"].create(
        {"id": int, "user_id": int, "kind": str, "machine_id": int, "test": str, "created_by": str, "created_at": str},
        pk="id",
        defaults={"test": ""},
        foreign_keys=[("user_id", "users", "id"), ("machine_id", "machines", "id")],
    )
    db["alert_log"].create(
        {"id": int, "at": str, "kind": str, "session_id": int, "recipients": str, "outcome": str, "error": str},
        pk="id",
        defaults={"error": ""},
    )
    db["settings"].upsert({"key": "signatures.required_since", "value": now_iso()}, pk="key")


@migrations()
def m011_intake_refusals(db: Database) -> None:
    """What the DICOM receiver refused for lack of room (qc.records.intake_refusals): an object over the size
    limit (its association aborted) or past the inbox quota (C-STORE 0xA700), with when and from which sender,
    so that the review page and Home can say it (before, only the receiver's log did)."""
    db["intake_refusals"].create(
        {"id": int, "at": str, "reason": str, "ae_title": str, "address": str, "size": int, "limit_mb": float,
         "what": str},
        pk="id",
        not_null={"at", "reason"},
        defaults={"ae_title": "", "address": "", "size": 0, "what": ""},
    )
    db["intake_refusals"].create_index(["at"])


def now_iso() -> str:
    return dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")


def _date_iso(value: dt.datetime | dt.date | str | None) -> str:
    """A date as stored (ISO, seconds). A missing date is an error, never "now" nor "the newest rules"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise QCInputError("err.no_acquisition_date")
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat(sep=" ")
    return value.isoformat()


class Store:
    """One connection to the QC database in a data folder (created and migrated on first open)."""

    def __init__(self, data_dir: Path | str | None = None) -> None:
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "files").mkdir(exist_ok=True)
        self.path = db_path(self.data_dir)
        self.created = not self.path.exists()
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        self.db = Database(conn)
        self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.db.execute("PRAGMA foreign_keys = ON")
        if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self._retry(self.db.enable_wal)
        if not self._migrated():
            self._retry(lambda: migrations.apply(self.db))
        sweep_partial_files(self.data_dir)

    def _migrated(self) -> bool:
        """Whether every migration of the app is already applied, read in one query: sqlite-utils' own check
        costs several queries, and the server opens a store for every new browser session (a login burst spent
        6 % of the server's CPU there; issue 26)."""
        try:
            rows = self.db.execute(
                f"SELECT name FROM [{migrations.migrations_table}] WHERE migration_set = ?", [migrations.name]
            ).fetchall()
        except sqlite3.OperationalError:  # no migrations table yet: a new database
            return False
        return {m.name for m in migrations._migrations} <= {r[0] for r in rows}

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ transactions

    @staticmethod
    def _retry(fn, attempts: int = 5):
        for i in range(attempts):
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or i == attempts - 1:
                    raise
                time.sleep(0.2 * (i + 1))

    @contextlib.contextmanager
    def write(self) -> Iterator[Database]:
        """A write transaction taken with BEGIN IMMEDIATE: all of it commits or none of it.

        Re-entrant in the thread that holds it: a `write()` inside another one (an import storing
        many sessions, each through `save_session`) joins the outer transaction, which commits or
        rolls back the whole."""
        if getattr(self, "_write_thread", None) == threading.get_ident():
            yield self.db
            return
        conn = self.db.conn
        for i in range(5):
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or i == 4:
                    raise database_error(exc) from exc
                time.sleep(0.2 * (i + 1))
        self._write_thread = threading.get_ident()
        try:
            yield self.db
        except BaseException as exc:
            self._write_thread = None
            with contextlib.suppress(sqlite3.Error):
                conn.rollback()
            if _converts(exc):
                raise database_error(exc) from exc  # type: ignore[arg-type]
            raise
        else:
            self._write_thread = None
            try:
                conn.commit()
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.rollback()
                if _converts(exc):
                    raise database_error(exc) from exc
                raise

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

    # ------------------------------------------------------------ settings

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        rows = list(self.db.query("select value from settings where key = ?", [key]))
        return rows[0]["value"] if rows else default

    def set_setting(self, key: str, value: str, user: str = "") -> None:
        with self.write() as db:
            old = self.get_setting(key)
            db["settings"].upsert({"key": key, "value": value}, pk="key")
            self._audit(user, "set_setting", "settings", key, {"old": old, "new": value})

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

    def earliest_acquisition(self, machine_id: int | None = None) -> str | None:
        """The earliest stored session date (of a machine, else of any), e.g. to date a first calibration."""
        sql = "select min(acquired_at) as first from sessions where voided = 0"
        params: list = []
        if machine_id is not None:
            sql += " and machine_id = ?"
            params.append(machine_id)
        rows = list(self.db.query(sql, params))
        return rows[0]["first"] if rows and rows[0]["first"] else None

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

    def audit_frame(self, limit: int = 500) -> pd.DataFrame:
        return pd.read_sql_query("select * from audit order by id desc limit ?", self.db.conn, params=[limit])

    def counts(self) -> dict[str, int]:
        return {t: self.db[t].count for t in ("machines", "sessions", "metrics", "files", "audit", "tolerances")}


def _names_of(spec: TestSpec) -> dict:
    """What a face needs to name a stored session without its analyser: the test's name and each metric's
    unit and labels, as they were when it was stored (see `qc.record.stored_spec`)."""
    return {"test": [spec.name_fr, spec.name_en, spec.frequency, spec.kind],
            "metrics": {m.name: [m.unit, m.label_fr, m.label_en, m.trend] for m in spec.metrics}}


def _next_month(month: str) -> str:
    year, mon = (int(x) for x in month.split("-"))
    return f"{year + (mon == 12):04d}-{mon % 12 + 1:02d}-01"


def _next_day(date: str) -> str:
    try:
        return (dt.date.fromisoformat(date[:10]) + dt.timedelta(days=1)).isoformat()
    except ValueError:
        return date


def _json_default(obj: Any):
    import numpy as np

    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (dt.datetime, dt.date)):
        return obj.isoformat()
    return str(obj)


def _writer_alive(pid: int) -> bool:
    """Whether the process that named a .part file still runs (POSIX only: on Windows os.kill
    would end the process, so there age alone decides)."""
    if sys.platform.startswith("win") or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def sweep_partial_files(data_dir: Path) -> int:
    """Remove the `.part` files of writers that died (kill -9, power cut, full disk): a `.part`
    whose process is gone, or older than PART_STALE_S. Returns how many were removed."""
    removed = 0
    now = time.time()
    for part in (Path(data_dir) / "files").glob("*/*.part"):
        try:
            pid = int(part.name.split(".")[-3])
        except (IndexError, ValueError):
            pid = -1
        try:
            age = now - part.stat().st_mtime
            dead = pid > 0 and not sys.platform.startswith("win") and not _writer_alive(pid)
            if age > PART_STALE_S or dead:  # a .part without a process id (backup restore): age only
                part.unlink()
                removed += 1
        except OSError:
            continue  # gone meanwhile, or not ours to remove: the next start tries again
    return removed


# Setting: the `qc.registry.definitions_fingerprint` of the tests whose default tolerances were last seeded.
SEEDED_SETTING = "tolerances.seeded_definitions"


def open_store(data_dir: Path | str | None = None) -> Store:
    """Open (creating and migrating if needed) the store, with every test's default tolerances: seeded when the
    tests' definitions changed since the last seeding (a new database, a new version), so that opening a store
    imports no analyser otherwise (`python -m qc analyse couch …` stays quick)."""
    from qc.registry import all_tests, definitions_fingerprint

    store = Store(data_dir)
    mark = definitions_fingerprint()
    if mark is None or store.get_setting(SEEDED_SETTING) != mark:
        store.seed_default_tolerances(all_tests(store))
        if mark is not None:
            with store.write() as db:  # bookkeeping, not a user's setting: not audited
                db["settings"].upsert({"key": SEEDED_SETTING, "value": mark}, pk="key")
    return store
