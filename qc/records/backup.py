"""Backups of the QC record: the SQLite database and the stored input files, taken while the app runs.

Owns: `backup_now` (one dated, self-contained backup folder), `list_backups`, `verify` (is a
backup whole and readable), `restore` (put a backup back, keeping the current database aside),
retention (`prune_backups`), and the in-process scheduler `start_scheduled_backups`.

Layout: `<data_dir>/backups/<YYYYmmdd-HHMMSS>/` holds
  * `qc.sqlite`: a consistent snapshot made with SQLite's online backup API
    (`sqlite3.Connection.backup`, https://sqlite.org/backup.html): other connections keep reading
    and writing meanwhile (WAL); the copy is switched to journal_mode=DELETE so it is one file;
  * `files/<2 hex>/<sha256>`: every stored input file. Files are content-addressed and never
    change, so a file already in the previous backup is hard-linked from it (no second copy on
    disk) and only new files are copied (a copy, not a link to the live file, so a backup does not
    share the live folder's inodes);
  * `manifest.json`: when, table counts, newest session, file count, sizes. It is written last and
    the folder is renamed into place afterwards: a folder without a manifest (a backup that was
    interrupted) is never listed nor restored.
The database is copied before the files: a session's files are written before its database
transaction commits (qc.records.storage.save_session), so every file the snapshot refers to is on disk.

These backups sit on the same disk as the data: they protect against a bad restore, a mistaken
deletion or a corrupt database, not against losing the disk. Copy `<data_dir>/backups/` to another
machine (e.g. a nightly rsync or the hospital's file backup) for that.

Settings (environment variables, read by `start_scheduled_backups` when its arguments are None):
  * `QC_BACKUP_INTERVAL_HOURS` (default 24): back up when the newest backup is older than this;
    0 turns the scheduler off.
  * `QC_BACKUP_KEEP_DAYS` (default 30): delete backups older than this many days after each new
    backup; the newest backup is never deleted; 0 keeps every backup.

Restoring: stop the Streamlit server (and any CLI) first; an open connection would keep writing to
the database that was moved aside. `restore` refuses to overwrite a database holding sessions (or
any audited change) newer than the backup unless `force=True`, and never deletes the current
database: it is renamed `qc.sqlite.before-restore-<timestamp>`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from qc.config import DB_FILENAME
from qc.config import data_dir as default_data_dir
from qc.errors import QCInputError

log = logging.getLogger(__name__)

BACKUPS_DIRNAME = "backups"
MANIFEST = "manifest.json"
STAMP_FORMAT = "%Y%m%d-%H%M%S"
DEFAULT_INTERVAL_HOURS = 24.0
DEFAULT_KEEP_DAYS = 30.0
#: Tables whose row counts are recorded in the manifest and compared by `verify` and the tests.
COUNTED_TABLES = ("machines", "calibrations", "tolerances", "sessions", "metrics", "files", "comments",
                  "baselines", "logged_tests", "settings", "audit", "signoffs", "users")
_STALE_TMP_S = 6 * 3600  # an unfinished backup folder older than this is debris from a crash
_BUSY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class BackupInfo:
    """One complete backup folder and what its manifest says."""

    path: Path
    created_at: dt.datetime
    counts: dict[str, int]
    newest_session_id: int
    newest_stored_at: str
    n_files: int
    db_bytes: int

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class VerifyReport:
    """What `verify` found: `ok` only when every check passed."""

    path: Path
    integrity: str = ""
    foreign_key_errors: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    counts_match_manifest: bool = False
    missing_files: list[str] = field(default_factory=list)
    corrupt_files: list[str] = field(default_factory=list)
    n_files_checked: int = 0

    @property
    def ok(self) -> bool:
        return (
            self.integrity == "ok"
            and self.foreign_key_errors == 0
            and self.counts_match_manifest
            and not self.missing_files
            and not self.corrupt_files
        )


@dataclass(frozen=True)
class RestoreReport:
    """What `restore` did."""

    restored_from: Path
    moved_aside: Path | None
    files_copied: int
    counts: dict[str, int]


# ---------------------------------------------------------------- helpers


def _data_dir(data_dir: Path | str | None) -> Path:
    return Path(data_dir).resolve() if data_dir is not None else default_data_dir()


def backups_dir(data_dir: Path | str | None = None) -> Path:
    return _data_dir(data_dir) / BACKUPS_DIRNAME


def _connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT_S)
    else:
        conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S)
    conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
    return conn


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Row count of each table of `COUNTED_TABLES` that exists in the database."""
    have = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
    return {t: conn.execute(f'select count(*) from "{t}"').fetchone()[0] for t in COUNTED_TABLES if t in have}


def _newest_session(conn: sqlite3.Connection) -> tuple[int, str]:
    have = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
    if "sessions" not in have:
        return 0, ""
    sid, stored = conn.execute("select coalesce(max(id), 0), coalesce(max(stored_at), '') from sessions").fetchone()
    return int(sid), str(stored)


def _max_audit_id(conn: sqlite3.Connection) -> int:
    have = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
    return int(conn.execute("select coalesce(max(id), 0) from audit").fetchone()[0]) if "audit" in have else 0


def _stored_files(files_dir: Path) -> Iterator[Path]:
    """The content-addressed files under `files/` (relative paths), without half-written `.part` files."""
    if not files_dir.is_dir():
        return
    for p in sorted(files_dir.rglob("*")):
        if p.is_file() and not p.name.endswith(".part"):
            yield p.relative_to(files_dir)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    # Make a rename durable on POSIX; directories cannot be opened on Windows, where this is moot.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _exclusive(lock_path: Path, wait: bool = True) -> Iterator[bool]:
    """An inter-process lock on `lock_path` (fcntl on POSIX, msvcrt on Windows); yields False when
    `wait` is False and another process holds it."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    f = open(lock_path, "a+b")
    got = False
    try:
        try:
            import fcntl

            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                got = True
            except BlockingIOError:
                got = False
        except ImportError:  # Windows
            import msvcrt

            while True:
                try:
                    f.seek(0)
                    msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
                    got = True
                    break
                except OSError:
                    if not wait:
                        break
                    time.sleep(0.2)
        yield got
    finally:
        if got:
            with contextlib.suppress(Exception):
                try:
                    import fcntl

                    fcntl.flock(f.fileno(), fcntl.LOCK_UN)
                except ImportError:
                    import msvcrt

                    f.seek(0)
                    msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
        f.close()


def _read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _info(folder: Path, manifest: dict) -> BackupInfo:
    return BackupInfo(
        path=folder,
        created_at=dt.datetime.fromisoformat(manifest["created_at"]),
        counts={k: int(v) for k, v in manifest.get("counts", {}).items()},
        newest_session_id=int(manifest.get("newest_session_id", 0)),
        newest_stored_at=str(manifest.get("newest_stored_at", "")),
        n_files=int(manifest.get("n_files", 0)),
        db_bytes=int(manifest.get("db_bytes", 0)),
    )


# ---------------------------------------------------------------- listing


def list_backups(data_dir: Path | str | None = None) -> list[BackupInfo]:
    """The complete backups of a data folder, newest first (folders without a manifest are skipped)."""
    root = backups_dir(data_dir)
    if not root.is_dir():
        return []
    out = []
    for folder in root.iterdir():
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        manifest = _read_manifest(folder)
        if manifest is None or "created_at" not in manifest:
            continue
        try:
            out.append(_info(folder, manifest))
        except (KeyError, ValueError):
            log.warning("backup %s: unreadable manifest, ignored", folder)
    return sorted(out, key=lambda b: (b.created_at, b.name), reverse=True)


def newest_backup(data_dir: Path | str | None = None) -> BackupInfo | None:
    backups = list_backups(data_dir)
    return backups[0] if backups else None


# ---------------------------------------------------------------- making a backup


def _snapshot_db(src_path: Path, dst_path: Path) -> None:
    """Copy the live database with the online backup API, in one step.

    One step (pages=-1) reads a single consistent snapshot; in WAL mode writers are not blocked
    meanwhile. A step-wise copy would restart every time another connection writes.
    """
    # Read-write open: a read-only connection cannot always join a WAL database (it needs the -shm).
    src = _connect(src_path)
    dst = sqlite3.connect(dst_path)
    try:
        src.backup(dst, pages=-1)
        # The copy inherits WAL mode from the header; make it one self-contained file.
        dst.execute("PRAGMA journal_mode = DELETE")
        dst.commit()
    finally:
        dst.close()
        src.close()


def _copy_files(files_dir: Path, dest_files: Path, previous: Path | None) -> tuple[int, int, int]:
    """Put every stored file into `dest_files`: hard link from the previous backup, else copy.

    Returns (n_files, n_copied, n_linked).
    """
    n = copied = linked = 0
    for rel in _stored_files(files_dir):
        target = dest_files / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        old = previous / rel if previous is not None else None
        done = False
        # Same name = same content (sha256); the size check catches a truncated earlier copy cheaply.
        if old is not None and old.is_file() and old.stat().st_size == (files_dir / rel).stat().st_size:
            try:
                os.link(old, target)
                linked += 1
                done = True
            except OSError:  # no hard links here (FAT, some shares): copy instead
                done = False
        if not done:
            shutil.copy2(files_dir / rel, target)
            copied += 1
        n += 1
    return n, copied, linked


def _unique_folder(root: Path, when: dt.datetime) -> Path:
    base = when.strftime(STAMP_FORMAT)
    folder = root / base
    i = 1
    while folder.exists():
        folder = root / f"{base}-{i}"
        i += 1
    return folder


def backup_now(data_dir: Path | str | None = None, keep_days: float = DEFAULT_KEEP_DAYS, *, now: dt.datetime | None = None) -> Path:
    """Make one complete backup of the data folder and prune old ones; returns the backup folder.

    Safe while other connections (other Streamlit sessions, other processes) read and write.
    Raises QCInputError("backup.err.no_database") when there is no database to back up.
    """
    base = _data_dir(data_dir)
    db = base / DB_FILENAME
    if not db.exists():
        raise QCInputError("backup.err.no_database", folder=str(base))
    root = base / BACKUPS_DIRNAME
    root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with _exclusive(root / ".lock"):
        when = (now or dt.datetime.now()).replace(microsecond=0)
        previous = newest_backup(base)
        tmp = root / f".tmp-{when.strftime(STAMP_FORMAT)}-{os.getpid()}-{threading.get_ident()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        try:
            _snapshot_db(db, tmp / DB_FILENAME)
            conn = _connect(tmp / DB_FILENAME, readonly=True)
            try:
                counts = table_counts(conn)
                newest_id, newest_stored = _newest_session(conn)
                max_audit = _max_audit_id(conn)
            finally:
                conn.close()
            n_files, copied, linked = _copy_files(base / "files", tmp / "files", previous.path / "files" if previous else None)
            manifest = {
                "created_at": when.isoformat(sep=" "),
                "source": str(base),
                "counts": counts,
                "newest_session_id": newest_id,
                "newest_stored_at": newest_stored,
                "max_audit_id": max_audit,
                "n_files": n_files,
                "files_copied": copied,
                "files_linked": linked,
                "db_bytes": (tmp / DB_FILENAME).stat().st_size,
                "sqlite_version": sqlite3.sqlite_version,
                "duration_s": round(time.monotonic() - started, 3),
            }
            with open(tmp / MANIFEST, "w", encoding="utf-8") as f:
                json.dump(manifest, f, indent=2, ensure_ascii=False)
                f.flush()
                os.fsync(f.fileno())
            folder = _unique_folder(root, when)
            tmp.rename(folder)
            _fsync_dir(root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log.info("backup %s: %d sessions, %d files (%d copied, %d linked)", folder.name, counts.get("sessions", 0), n_files, copied, linked)
        prune_backups(base, keep_days, now=when)
    return folder


def prune_backups(data_dir: Path | str | None = None, keep_days: float = DEFAULT_KEEP_DAYS, *, now: dt.datetime | None = None) -> list[Path]:
    """Delete backups older than `keep_days` (never the newest one; 0 keeps all) and the debris of
    interrupted backups; returns the deleted folders."""
    root = backups_dir(data_dir)
    deleted: list[Path] = []
    if not root.is_dir():
        return deleted
    now = now or dt.datetime.now()
    for tmp in root.glob(".tmp-*"):
        with contextlib.suppress(OSError):
            if time.time() - tmp.stat().st_mtime > _STALE_TMP_S:
                shutil.rmtree(tmp, ignore_errors=True)
    if not keep_days or keep_days <= 0:
        return deleted
    cutoff = now - dt.timedelta(days=keep_days)
    backups = list_backups(data_dir)
    for b in backups[1:]:  # backups[0] is the newest: always kept
        if b.created_at < cutoff:
            shutil.rmtree(b.path, ignore_errors=True)
            deleted.append(b.path)
            log.info("backup %s deleted (older than %g days)", b.name, keep_days)
    return deleted


# ---------------------------------------------------------------- checking a backup


def verify(backup_path: Path | str, *, check_hashes: bool = True) -> VerifyReport:
    """Check a backup: SQLite integrity_check, foreign keys, counts equal to the manifest, and every
    file the database refers to present (and, with `check_hashes`, with the content its sha256 names)."""
    folder = Path(backup_path)
    report = VerifyReport(path=folder)
    manifest = _read_manifest(folder)
    db = folder / DB_FILENAME
    if manifest is None or not db.exists():
        report.integrity = "missing manifest or database"
        return report
    try:
        conn = _connect(db, readonly=True)
        try:
            report.integrity = "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check")) or "?"
            if report.integrity != "ok":
                return report
            report.foreign_key_errors = len(conn.execute("PRAGMA foreign_key_check").fetchall())
            report.counts = table_counts(conn)
            rows = conn.execute("select distinct sha256, stored_path from files where stored_path != ''").fetchall() if "files" in report.counts else []
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:  # not a database, or damaged beyond integrity_check's reach
        report.integrity = f"{type(exc).__name__}: {exc}"
        return report
    report.counts_match_manifest = report.counts == {k: int(v) for k, v in manifest.get("counts", {}).items()}
    for sha, stored_path in rows:
        rel = Path(stored_path)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts or rel.parts[0] != "files":
            report.corrupt_files.append(stored_path)
            continue
        path = folder / rel
        if not path.is_file():
            report.missing_files.append(stored_path)
            continue
        report.n_files_checked += 1
        if check_hashes and _sha256(path) != sha:
            report.corrupt_files.append(stored_path)
    return report


# ---------------------------------------------------------------- restoring


def _changes_since(current: Path, manifest: dict) -> tuple[int, int]:
    """(sessions, audit rows) of the current database that the backup does not have."""
    conn = _connect(current)
    try:
        have = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
        sessions = audit = 0
        if "sessions" in have:
            sessions = conn.execute(
                "select count(*) from sessions where id > ? or stored_at > ?",
                [int(manifest.get("newest_session_id", 0)), manifest.get("created_at", "")],
            ).fetchone()[0]
        if "audit" in have:
            audit = conn.execute("select count(*) from audit where id > ?", [int(manifest.get("max_audit_id", 0))]).fetchone()[0]
    finally:
        conn.close()
    return int(sessions), int(audit)


def restore(
    backup_path: Path | str,
    data_dir: Path | str | None = None,
    *,
    force: bool = False,
    user: str = "",
    now: dt.datetime | None = None,
) -> RestoreReport:
    """Put a backup back as the data folder's database (and add its files).

    Refused (QCInputError "backup.err.*") when the backup does not verify, or when the current
    database holds sessions or audited changes newer than the backup, unless `force`. The current
    database is never deleted: it is checkpointed and renamed `qc.sqlite.before-restore-<ts>`.
    Stored files are only added (they are content-addressed; nothing is overwritten or removed).
    The restore itself is written to the restored database's audit log (action "restore_backup").
    Stop the app before restoring (see the module docstring).
    """
    folder = Path(backup_path).resolve()
    base = _data_dir(data_dir)
    report = verify(folder)
    if not report.ok:
        raise QCInputError("backup.err.invalid", backup=str(folder), problems=_problems(report))
    manifest = _read_manifest(folder) or {}
    base.mkdir(parents=True, exist_ok=True)
    current = base / DB_FILENAME
    when = (now or dt.datetime.now()).replace(microsecond=0)
    moved: Path | None = None
    with _exclusive(base / BACKUPS_DIRNAME / ".lock"):
        if current.exists():
            n_sessions, n_audit = _changes_since(current, manifest)
            if (n_sessions or n_audit) and not force:
                raise QCInputError("backup.err.newer", sessions=n_sessions, changes=n_audit, backup=folder.name)
            # Fold the WAL into the main file so that the file moved aside is the whole database.
            conn = _connect(current)
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()
            moved = base / f"{DB_FILENAME}.before-restore-{when.strftime(STAMP_FORMAT)}"
            i = 1
            while moved.exists():
                moved = base / f"{DB_FILENAME}.before-restore-{when.strftime(STAMP_FORMAT)}-{i}"
                i += 1
            current.rename(moved)
            for suffix in ("-wal", "-shm"):
                side = base / (DB_FILENAME + suffix)
                if side.exists():
                    side.rename(Path(str(moved) + suffix))
        tmp = base / f".{DB_FILENAME}.restoring-{os.getpid()}"
        shutil.copy2(folder / DB_FILENAME, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        tmp.replace(current)
        _fsync_dir(base)
        copied = 0
        for rel in _stored_files(folder / "files"):
            target = base / "files" / rel
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_name(target.name + ".part")
            shutil.copy2(folder / "files" / rel, part)
            part.replace(target)
            copied += 1
    conn = _connect(current)
    try:
        if "audit" in {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}:
            details = {"backup": folder.name, "moved_aside": moved.name if moved else None, "forced": force}
            with conn:
                conn.execute(
                    "insert into audit (at, user, action, entity, entity_id, details) values (?, ?, ?, ?, ?, ?)",
                    [when.isoformat(sep=" "), user, "restore_backup", "database", folder.name, json.dumps(details)],
                )
        counts = table_counts(conn)
    finally:
        conn.close()
    log.warning("database restored from backup %s (previous database kept as %s)", folder.name, moved.name if moved else "—")
    return RestoreReport(restored_from=folder, moved_aside=moved, files_copied=copied, counts=counts)


# ---------------------------------------------------------------- scheduler


_scheduler_lock = threading.Lock()
_scheduler: "_Scheduler | None" = None


@dataclass
class _Scheduler:
    thread: threading.Thread
    stop: threading.Event
    data_dir: Path
    interval_hours: float
    keep_days: float
    runs: int = 0
    failures: int = 0
    last_error: str = ""


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        log.error("%s=%r is not a number; using %g", name, raw, default)
        return default
    return max(value, 0.0)


def backup_due(data_dir: Path | str | None, interval_hours: float, now: dt.datetime | None = None) -> bool:
    """True when there is a database and no backup younger than `interval_hours`."""
    base = _data_dir(data_dir)
    if not (base / DB_FILENAME).exists():
        return False
    newest = newest_backup(base)
    now = now or dt.datetime.now()
    return newest is None or (now - newest.created_at) >= dt.timedelta(hours=interval_hours)


def _run(s: _Scheduler, check_seconds: float) -> None:
    while not s.stop.is_set():
        try:
            if backup_due(s.data_dir, s.interval_hours):
                # Another process of the same data folder may be backing up: skip, check again later.
                with _exclusive(s.data_dir / BACKUPS_DIRNAME / ".scheduler.lock", wait=False) as got:
                    if got and backup_due(s.data_dir, s.interval_hours):
                        backup_now(s.data_dir, s.keep_days)
                        s.runs += 1
        except Exception as exc:  # a failed backup must never take the app down: log and retry later
            s.failures += 1
            s.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("scheduled backup of %s failed", s.data_dir)
        s.stop.wait(check_seconds)


def start_scheduled_backups(
    data_dir: Path | str | None = None,
    interval_hours: float | None = None,
    keep_days: float | None = None,
    *,
    check_seconds: float | None = None,
) -> threading.Thread | None:
    """Start the one backup thread of this process (a daemon); later calls return the same thread.

    Safe to call on every Streamlit rerun. Arguments left None come from `QC_BACKUP_INTERVAL_HOURS`
    and `QC_BACKUP_KEEP_DAYS` (module docstring). Interval 0: no thread, returns None. The thread
    checks every `check_seconds` (default: a quarter of the interval, at most 10 min) and backs up
    when the newest backup is older than the interval (so at once on a first start).
    """
    global _scheduler
    if interval_hours is None:
        interval_hours = _env_float("QC_BACKUP_INTERVAL_HOURS", DEFAULT_INTERVAL_HOURS)
    if keep_days is None:
        keep_days = _env_float("QC_BACKUP_KEEP_DAYS", DEFAULT_KEEP_DAYS)
    if interval_hours <= 0:
        return None
    base = _data_dir(data_dir)
    with _scheduler_lock:
        if _scheduler is not None and _scheduler.thread.is_alive():
            if _scheduler.data_dir != base:
                log.warning("backup scheduler already runs for %s; %s ignored", _scheduler.data_dir, base)
            return _scheduler.thread
        if check_seconds is None:
            check_seconds = min(interval_hours * 3600 / 4, 600.0)
        stop = threading.Event()
        s = _Scheduler(thread=None, stop=stop, data_dir=base, interval_hours=interval_hours, keep_days=keep_days)  # type: ignore[arg-type]
        s.thread = threading.Thread(target=_run, args=(s, max(check_seconds, 0.05)), name="qc-backup-scheduler", daemon=True)
        _scheduler = s
        s.thread.start()
        return s.thread


def scheduler_status() -> dict | None:
    """The running scheduler's settings and counters (None when none runs), for a settings page."""
    s = _scheduler
    if s is None or not s.thread.is_alive():
        return None
    return {"data_dir": str(s.data_dir), "interval_hours": s.interval_hours, "keep_days": s.keep_days,
            "runs": s.runs, "failures": s.failures, "last_error": s.last_error}


def stop_scheduled_backups(timeout: float = 10.0) -> None:
    """Stop the scheduler thread (tests, clean shutdown); a later start makes a new one."""
    global _scheduler
    with _scheduler_lock:
        s = _scheduler
        _scheduler = None
    if s is not None:
        s.stop.set()
        s.thread.join(timeout)


# ---------------------------------------------------------------- display helpers (pages, CLI)


def backups_frame(data_dir: Path | str | None = None, lang: str = "fr"):
    """The backups as a table for a page (newest first), columns labelled in `lang`."""
    import pandas as pd

    from qc.i18n import t

    rows = [
        {
            t("backup.col.name", lang): b.name,
            t("backup.col.created_at", lang): b.created_at.isoformat(sep=" "),
            t("backup.col.sessions", lang): b.counts.get("sessions", 0),
            t("backup.col.files", lang): b.n_files,
            t("backup.col.size_mb", lang): round(b.db_bytes / 1e6, 2),
        }
        for b in list_backups(data_dir)
    ]
    return pd.DataFrame(rows)


def verify_message(report: VerifyReport, lang: str = "fr") -> str:
    """One sentence saying whether a backup verified, and if not why."""
    from qc.i18n import t

    if report.ok:
        return t("backup.verify.ok", lang, backup=report.path.name, sessions=report.counts.get("sessions", 0), files=report.n_files_checked)
    return t("backup.verify.failed", lang, backup=report.path.name, problems=_problems(report))


def _problems(report: VerifyReport) -> str:
    problems = []
    if report.integrity != "ok":
        problems.append(f"integrity_check: {report.integrity}")
    if report.foreign_key_errors:
        problems.append(f"foreign_key_check: {report.foreign_key_errors}")
    if not report.counts_match_manifest:
        problems.append("counts ≠ manifest")
    if report.missing_files:
        problems.append(f"{len(report.missing_files)} missing file(s): {', '.join(report.missing_files[:3])}")
    if report.corrupt_files:
        problems.append(f"{len(report.corrupt_files)} corrupt file(s): {', '.join(report.corrupt_files[:3])}")
    return "; ".join(problems)
