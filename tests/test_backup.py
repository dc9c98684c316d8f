"""Backups (qc.records.backup): a restored backup is the same record, a backup taken while another process
writes is consistent, retention keeps the newest, restore refuses to lose newer work, and the
scheduler runs once per process."""

from __future__ import annotations

import datetime as dt
import hashlib
import multiprocessing as mp
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from qc.records import backup
from qc.errors import QCInputError

COUCH = {"couch_readout_1_cm": "17,5", "couch_readout_2_cm": "21,52"}


# ---------------------------------------------------------------- helpers


def _file(tag: str):
    from qc.results import InputFile

    data = f"DICM-fake-{tag}".encode() * 50
    return InputFile(filename=f"{tag}.dcm", sha256=hashlib.sha256(data).hexdigest(), size=len(data), sop_instance_uid=f"1.2.3.{abs(hash(tag)) % 10**8}", data=data)


def store_couch(
    store, machine, n: int, *, tag: str = "op", start: dt.datetime = dt.datetime(2026, 3, 2, 8, 0), files_every: int = 0, first: int = 0
) -> list[int]:
    """Store `n` couch sessions through the real path (record_logged → store_analysis), numbered from `first`."""
    from qc import pipeline
    from qc.registry import get_test

    spec = get_test("couch", store)
    ids = []
    for i in range(first, first + n):
        a = pipeline.record_logged(store, spec, machine, {**COUCH, "couch_readout_2_cm": f"21,{50 + i % 7}"}, acquired_at=start + dt.timedelta(hours=i - first))
        if files_every and i % files_every == 0:
            a.result.files = [_file(f"{tag}-{i}")]
        ids.append(pipeline.store_analysis(store, a, operator=tag, comment=f"{tag}#{i}"))
    return ids


def dump(db_path: Path) -> dict[str, list[tuple]]:
    """Every row of every table, in rowid order (the migration bookkeeping table aside)."""
    conn = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type='table' and name not like 'sqlite_%' order by name")]
        return {t: conn.execute(f'select * from "{t}" order by rowid').fetchall() for t in tables}
    finally:
        conn.close()


@pytest.fixture
def populated(store, machine):
    """A store with sessions, files, a voided session, a comment and a baseline."""
    ids = store_couch(store, machine, 12, files_every=4)
    store.void_session(ids[1], "mauvaise saisie", "PH")
    store.add_comment(ids[2], "vérifié", "PH")
    store.set_baseline(machine["id"], "couch", {"x": 1}, ids[0], "PH")
    return store, machine, ids


@pytest.fixture(autouse=True)
def _no_scheduler_left():
    yield
    backup.stop_scheduled_backups()


# ---------------------------------------------------------------- backup → restore is the same record


def test_backup_holds_every_table_row_and_file(populated, qc_data_dir):
    store, machine, ids = populated
    folder = backup.backup_now(qc_data_dir)
    assert folder.parent == qc_data_dir / "backups"
    report = backup.verify(folder)
    assert report.ok, report
    assert report.n_files_checked == 3  # sessions 0, 4, 8 carry a file
    assert dump(folder / "qc.sqlite") == dump(store.path)
    assert report.counts["sessions"] == 12 and report.counts["metrics"] == 36
    # One self-contained file, not a WAL database that needs its -wal beside it.
    conn = sqlite3.connect(folder / "qc.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()
    [info] = backup.list_backups(qc_data_dir)
    assert info.path == folder and info.counts == report.counts and info.newest_session_id == max(ids) and info.n_files == 3


def test_restore_into_empty_folder_gives_the_same_sessions_metrics_and_files(populated, qc_data_dir, tmp_path):
    from qc.records.storage import Store

    store, machine, ids = populated
    original = dump(store.path)
    folder = backup.backup_now(qc_data_dir)
    other = tmp_path / "elsewhere"
    rep = backup.restore(folder, other, user="admin")
    assert rep.moved_aside is None and rep.files_copied == 3
    restored = dump(other / "qc.sqlite")
    for table, rows in original.items():
        if table == "audit":
            # The restore itself is audited: one row more, the rest identical.
            assert restored[table][:-1] == rows
            assert restored[table][-1][3] == "restore_backup" and restored[table][-1][2] == "admin"
        else:
            assert restored[table] == rows, table
    with Store(other) as s2:
        for sid in ids:
            a, b = store.session(sid), s2.session(sid)
            assert a == b
            for f in b["files"]:
                data = s2.file_bytes(f["stored_path"])
                assert data is not None and hashlib.sha256(data).hexdigest() == f["sha256"]
        assert s2.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---------------------------------------------------------------- backup while another process writes


def _writer(data_dir: str, tag: str, seconds: float, started, out) -> None:
    os.environ["QC_DATA_DIR"] = data_dir
    from qc.records.storage import open_store

    ids, errors = [], []
    with open_store(data_dir) as s:
        machine = s.machine_by_name("Unity T")
        started.set()
        deadline = time.monotonic() + seconds
        i = 0
        while time.monotonic() < deadline:
            try:
                ids += store_couch(s, machine, 1, tag=tag, start=dt.datetime(2026, 4, 1) + dt.timedelta(hours=i), files_every=5, first=i)
            except Exception as exc:  # reported to the parent, which fails the test
                errors.append(repr(exc))
            i += 1
    out.put((ids, errors))


def test_backup_while_another_process_writes_is_consistent(store, machine, qc_data_dir):
    ctx = mp.get_context("spawn")
    started, out = ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=_writer, args=(str(qc_data_dir), "w1", 4.0, started, out))
    proc.start()
    try:
        assert started.wait(30), "writer did not start"
        folders = []
        while proc.is_alive() and len(folders) < 6:
            folders.append(backup.backup_now(qc_data_dir))
            time.sleep(0.3)
        ids, errors = out.get(timeout=30)
        proc.join(10)
    finally:
        if proc.is_alive():
            proc.kill()
    assert errors == []
    assert len(ids) > 20 and len(folders) >= 3
    seen = -1
    for folder in folders:
        rep = backup.verify(folder)
        assert rep.ok, (folder, rep)
        conn = sqlite3.connect(folder / "qc.sqlite")
        # Transaction-consistent snapshot: every session whole (3 metrics, its audit row), none half-written.
        bad = conn.execute(
            "select s.id from sessions s where (select count(*) from metrics m where m.session_id = s.id) != 3 "
            "or (select count(*) from audit a where a.action = 'store_session' and a.entity_id = cast(s.id as text)) != 1"
        ).fetchall()
        n = conn.execute("select count(*) from sessions where operator = 'w1'").fetchone()[0]
        conn.close()
        assert bad == []
        assert n >= seen  # later backups hold at least as much
        seen = n
    final = backup.backup_now(qc_data_dir)
    conn = sqlite3.connect(final / "qc.sqlite")
    stored = {r[0] for r in conn.execute("select id from sessions where operator = 'w1'")}
    conn.close()
    assert stored == set(ids)
    assert backup.verify(final).ok


# ---------------------------------------------------------------- retention, hard links


def test_retention_deletes_old_backups_but_never_the_newest(populated, qc_data_dir):
    now = dt.datetime(2026, 6, 30, 12, 0)
    old1 = backup.backup_now(qc_data_dir, keep_days=0, now=now - dt.timedelta(days=40))
    old2 = backup.backup_now(qc_data_dir, keep_days=0, now=now - dt.timedelta(days=31))
    recent = backup.backup_now(qc_data_dir, keep_days=0, now=now - dt.timedelta(days=10))
    assert [b.path for b in backup.list_backups(qc_data_dir)] == [recent, old2, old1]  # newest first
    newest = backup.backup_now(qc_data_dir, keep_days=30, now=now)
    assert [b.path for b in backup.list_backups(qc_data_dir)] == [newest, recent]
    assert not old1.exists() and not old2.exists()
    # All backups older than the limit: the newest one stays.
    deleted = backup.prune_backups(qc_data_dir, keep_days=1, now=now + dt.timedelta(days=400))
    assert deleted == [recent]
    assert [b.path for b in backup.list_backups(qc_data_dir)] == [newest]
    assert backup.verify(newest).ok  # its hard-linked files survived the deletion of the older folders


def test_unchanged_files_are_hard_linked_and_new_ones_copied(populated, qc_data_dir):
    store, machine, ids = populated
    b1 = backup.backup_now(qc_data_dir, now=dt.datetime(2026, 6, 1, 8, 0))
    store_couch(store, machine, 1, tag="new", start=dt.datetime(2026, 6, 1, 9), files_every=1)
    b2 = backup.backup_now(qc_data_dir, now=dt.datetime(2026, 6, 2, 8, 0))
    files1 = {p.relative_to(b1) for p in (b1 / "files").rglob("*") if p.is_file()}
    files2 = {p.relative_to(b2) for p in (b2 / "files").rglob("*") if p.is_file()}
    assert len(files1) == 3 and len(files2) == 4 and files1 < files2
    for rel in files1:
        assert (b1 / rel).stat().st_ino == (b2 / rel).stat().st_ino
    [new] = files2 - files1
    assert (b2 / new).stat().st_ino != (qc_data_dir / new).stat().st_ino  # a copy, not the live file
    assert (b2 / new).read_bytes() == (qc_data_dir / new).read_bytes()
    manifest2 = backup.list_backups(qc_data_dir)[0]
    assert manifest2.path == b2 and manifest2.n_files == 4


def test_interrupted_backup_is_never_listed(populated, qc_data_dir):
    folder = backup.backup_now(qc_data_dir)
    (folder / "manifest.json").unlink()  # as if the process died before the manifest
    (qc_data_dir / "backups" / ".tmp-20260101-000000-1-1").mkdir()
    assert backup.list_backups(qc_data_dir) == []


# ---------------------------------------------------------------- restore refusal, force, damaged backups


def test_restore_refuses_to_lose_newer_sessions_unless_forced(populated, qc_data_dir):
    store, machine, ids = populated
    folder = backup.backup_now(qc_data_dir)
    [late] = store_couch(store, machine, 1, tag="late", start=dt.datetime(2026, 5, 1, 8))
    before = dump(store.path)
    with pytest.raises(QCInputError) as exc:
        backup.restore(folder, qc_data_dir)
    assert exc.value.key == "backup.err.newer" and exc.value.params["sessions"] == 1
    assert "1 séance" in exc.value.message("fr")
    assert dump(store.path) == before  # untouched
    store.close()

    rep = backup.restore(folder, qc_data_dir, force=True)
    assert rep.moved_aside is not None and rep.moved_aside.name.startswith("qc.sqlite.before-restore-")
    assert rep.counts["sessions"] == 12
    kept = sqlite3.connect(rep.moved_aside)
    assert kept.execute("select count(*) from sessions where id = ?", [late]).fetchone()[0] == 1  # never deleted
    assert kept.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    kept.close()
    from qc.records.storage import Store

    with Store(qc_data_dir) as s2:
        assert s2.db["sessions"].count == 12
        assert list(s2.db.query("select id from sessions where id = ?", [late])) == []
        # The restored database takes new sessions.
        [new] = store_couch(s2, s2.machine(machine["id"]), 1, tag="after", start=dt.datetime(2026, 5, 2, 8))
        assert s2.session(new)["operator"] == "after"


def test_restore_refuses_when_a_session_was_voided_after_the_backup(populated, qc_data_dir):
    store, machine, ids = populated
    folder = backup.backup_now(qc_data_dir)
    store.void_session(ids[3], "doublon", "PH")  # no new session, but a change the backup lacks
    with pytest.raises(QCInputError) as exc:
        backup.restore(folder, qc_data_dir)
    assert exc.value.params["sessions"] == 0 and exc.value.params["changes"] == 1


def test_restore_of_same_state_needs_no_force(populated, qc_data_dir):
    store, machine, ids = populated
    folder = backup.backup_now(qc_data_dir)
    store.close()
    rep = backup.restore(folder, qc_data_dir)
    assert rep.moved_aside is not None and rep.moved_aside.exists()
    assert rep.counts["sessions"] == 12


def test_damaged_backup_fails_verify_and_is_not_restored(populated, qc_data_dir, tmp_path):
    folder = backup.backup_now(qc_data_dir)
    stored = next(p for p in (folder / "files").rglob("*") if p.is_file())
    stored.unlink()
    stored.write_bytes(b"not the same content")  # a new inode: the live file is untouched
    rep = backup.verify(folder)
    assert not rep.ok and len(rep.corrupt_files) == 1 and rep.integrity == "ok"
    with pytest.raises(QCInputError) as exc:
        backup.restore(folder, tmp_path / "x")
    assert exc.value.key == "backup.err.invalid"
    assert "corrupt" in backup.verify_message(rep, "en")

    folder2 = backup.backup_now(qc_data_dir, now=dt.datetime.now() + dt.timedelta(seconds=5))
    db = folder2 / "qc.sqlite"
    raw = bytearray(db.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 4096] = b"\xff" * 4096  # wreck a page in the middle
    db.write_bytes(bytes(raw))
    rep2 = backup.verify(folder2)
    assert not rep2.ok
    with pytest.raises(QCInputError):
        backup.restore(folder2, tmp_path / "y")
    assert not (tmp_path / "y" / "qc.sqlite").exists()


def test_backup_without_database_is_a_clear_error(tmp_path):
    with pytest.raises(QCInputError) as exc:
        backup.backup_now(tmp_path / "empty")
    assert exc.value.key == "backup.err.no_database"


# ---------------------------------------------------------------- scheduler


def _scheduler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "qc-backup-scheduler" and t.is_alive()]


def _wait_for(cond, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_scheduler_is_one_thread_per_process_and_backs_up_once_per_interval(populated, qc_data_dir):
    results = []

    def call():
        results.append(backup.start_scheduled_backups(qc_data_dir, interval_hours=1, keep_days=30, check_seconds=0.05))

    threads = [threading.Thread(target=call) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _ in range(20):  # a Streamlit rerun calls it again and again
        call()
    assert len({id(r) for r in results}) == 1 and results[0].daemon
    assert len(_scheduler_threads()) == 1
    assert _wait_for(lambda: len(backup.list_backups(qc_data_dir)) == 1)
    time.sleep(0.6)  # a dozen more checks: the one backup is younger than the 1 h interval
    assert len(backup.list_backups(qc_data_dir)) == 1
    assert backup.scheduler_status()["runs"] == 1
    backup.stop_scheduled_backups()
    assert _wait_for(lambda: not _scheduler_threads(), 5)


def test_scheduler_backs_up_again_after_the_interval(populated, qc_data_dir):
    backup.start_scheduled_backups(qc_data_dir, interval_hours=1.0 / 3600, keep_days=30, check_seconds=0.1)
    assert _wait_for(lambda: len(backup.list_backups(qc_data_dir)) >= 3, 15)
    names = [b.name for b in backup.list_backups(qc_data_dir)]
    assert len(set(names)) == len(names)


def test_scheduler_off_and_env_settings(populated, qc_data_dir, monkeypatch):
    monkeypatch.setenv("QC_BACKUP_INTERVAL_HOURS", "0")
    assert backup.start_scheduled_backups(qc_data_dir) is None
    assert _scheduler_threads() == []
    monkeypatch.setenv("QC_BACKUP_INTERVAL_HOURS", "12")
    monkeypatch.setenv("QC_BACKUP_KEEP_DAYS", "7,5")
    assert backup.start_scheduled_backups(qc_data_dir, check_seconds=0.05) is not None
    status = backup.scheduler_status()
    assert status["interval_hours"] == 12 and status["keep_days"] == 7.5


def test_scheduler_logs_failures_and_keeps_running(populated, qc_data_dir, caplog):
    (qc_data_dir / "backups").write_text("a file where the backups folder should be")
    backup.start_scheduled_backups(qc_data_dir, interval_hours=1, keep_days=30, check_seconds=0.05)
    assert _wait_for(lambda: (backup.scheduler_status() or {}).get("failures", 0) >= 3)
    assert len(_scheduler_threads()) == 1  # still alive
    assert "scheduled backup" in caplog.text
    (qc_data_dir / "backups").unlink()  # fixed: the next check backs up
    assert _wait_for(lambda: len(backup.list_backups(qc_data_dir)) == 1)
