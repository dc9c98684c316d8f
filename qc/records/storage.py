"""The QC database (SQLite through sqlite-utils): the connection, the transactions and the schema's migrations.

The records layer owns every SQL statement of the app (`tests/test_records_own_sql.py` holds it); `Store` is
composed of one part per concern, each in its own module saying which tables it owns:
- `sessions`: sessions, metrics, files, session pictures, comments, monthly sign-offs (the record itself);
- `references`: dated tolerances, beam-axis calibrations, baselines (what a result is judged against);
- `machines`: machines and machine events;
- `audit`: the audit log; `settings`: settings (and, as functions, the e-mail alerts' tables);
- and, as functions taking a store: `intake` (the inbox of automatic intake), `intake_refusals` (what the receiver
  refused), `auth` (users, login attempts),
  `signatures` (signatures, notes on a leaf), `spc_records` (control-chart choices), `logged` (logged tests).
A face calls `store.method(...)` or one of those functions; none writes SQL or touches `store.db`.

Schema: machines, dated CAX calibrations, dated tolerances (never edited in place), QC sessions with
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
import sqlite3
import sys
import time
import threading
import os
from pathlib import Path
from typing import Iterator

from sqlite_utils import Database, Migrations

from qc.config import data_dir as default_data_dir
from qc.config import EVENT_KINDS  # noqa: F401  (re-exported: the kinds of machine event)
from qc.config import db_path
from qc.records.audit import AuditMixin
from qc.records.base import (  # noqa: F401  (re-exported: imported from here across the app and its tests)
    EPOCH, RECORD_VERSION, StorageError, _converts, _date_iso, _json_default, _next_day, _next_month, database_error,
    disk_error, now_iso)
from qc.records.machines import MachinesMixin
from qc.records.references import ReferencesMixin
from qc.records.sessions import SessionsMixin
from qc.records.settings import SettingsMixin

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 15000

migrations = Migrations("mrlinac-qc")
PART_STALE_S = 600  # a .part file older than this is a dead writer's, whatever its process id says


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


class Store(SessionsMixin, ReferencesMixin, MachinesMixin, SettingsMixin, AuditMixin):
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

    def counts(self) -> dict[str, int]:
        return {t: self.db[t].count for t in ("machines", "sessions", "metrics", "files", "audit", "tolerances")}

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database file (before the file is moved or copied alone)."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


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
            store.set_setting_unaudited(SEEDED_SETTING, mark)
    return store
