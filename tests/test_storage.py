"""Storage: sessions whole or absent, tolerance in force by date, duplicates, voiding, audit, migrations."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from qc.errors import DuplicateUploadError
from qc.registry import get_test
from qc.results import AnalysisResult, InputFile, Measurement
from qc.records.storage import Store, migrations, open_store
from qc.tolerances import Tolerance


def save(store, spec, result, machine_id, **kw) -> int:
    """Store a result as the pipeline does: judged once by `pipeline.judge`, stored as judged."""
    from qc import pipeline

    judged = pipeline.judge(store, spec, result, store.machine(machine_id)).judged
    return store.save_session(spec, result, machine_id, judged=judged, **kw)


def couch_result(dev_mm: float, when: dt.datetime, files=None) -> AnalysisResult:
    return AnalysisResult(
        test="couch",
        measurements=[Measurement("couch_deviation_mm", dev_mm, "mm")],
        acquired_at=when,
        files=files or [],
    )


def test_database_created_with_wal_and_schema(store, qc_data_dir):
    assert (qc_data_dir / "qc.sqlite").exists()
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"machines", "sessions", "metrics", "files", "audit", "tolerances", "calibrations"} <= set(store.db.table_names())
    assert [m.name for m in migrations.applied(store.db)][:3] == ["m001_initial", "m002_signoffs", "m003_users"]
    assert [m.name for m in migrations.applied(store.db)] == [m.name for m in migrations._migrations]
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_reopen_keeps_history_and_applies_nothing_twice(qc_data_dir, machine):
    spec = get_test("couch")
    with open_store(qc_data_dir) as s:
        sid = save(s, spec, couch_result(0.5, dt.datetime(2026, 5, 1)), machine["id"], operator="AG")
    with open_store(qc_data_dir) as s:
        assert s.session(sid)["operator"] == "AG"
        assert len(migrations.applied(s.db)) == len(migrations._migrations)  # each applied once
        assert not migrations.pending(s.db)


def test_tolerance_in_force_on_the_acquisition_date_judges_and_is_stored(store, machine):
    spec = get_test("couch")
    store.set_tolerance("couch", "couch_deviation_mm", Tolerance.symmetric(0.5, 1.0), unit="mm", valid_from="2026-06-01", user="phys", comment="SBRT")
    before = save(store, spec, couch_result(0.8, dt.datetime(2026, 5, 20)), machine["id"])
    after = save(store, spec, couch_result(0.8, dt.datetime(2026, 6, 2)), machine["id"])
    m_before = store.session(before)["metrics"][0]
    m_after = store.session(after)["metrics"][0]
    assert (m_before["tol_low"], m_before["tol_high"], m_before["act_high"]) == (-1.5, 1.5, 2.0)
    assert m_before["status"] == "pass"
    assert (m_after["tol_low"], m_after["tol_high"], m_after["act_high"]) == (-0.5, 0.5, 1.0)
    assert m_after["status"] == "warning"
    audit = store.audit_frame()
    assert (audit["action"] == "set_tolerance").sum() == 1
    # The old tolerance row is still there: tolerances are never edited in place.
    assert len(store.tolerances_frame("couch")) == 2


def test_machine_specific_tolerance_wins(store, machine):
    other = store.add_machine("Unity 2")
    store.set_tolerance("couch", "couch_deviation_mm", Tolerance.symmetric(0.2, 0.4), machine_id=machine["id"], valid_from="2020-01-01", user="p")
    assert store.tolerance_for("couch", "couch_deviation_mm", machine["id"], dt.datetime(2026, 1, 1)).tol_high == 0.2
    assert store.tolerance_for("couch", "couch_deviation_mm", other, dt.datetime(2026, 1, 1)).tol_high == 1.5


def test_duplicate_upload_is_recognised_and_nothing_stored(store, machine):
    spec = get_test("couch")
    f = InputFile("a.dcm", "ab" * 32, 10, "1.2.3", b"0123456789")
    save(store, spec, couch_result(0.1, dt.datetime(2026, 1, 1), [f]), machine["id"])
    before = store.counts()
    with pytest.raises(DuplicateUploadError) as info:
        save(store, spec, couch_result(0.1, dt.datetime(2026, 1, 1), [InputFile("renamed.dcm", "ab" * 32, 10, "1.2.3", b"0123456789")]), machine["id"])
    assert info.value.session_id == 1
    assert store.counts() == before
    # Same SOPInstanceUID, different bytes (re-exported): also a duplicate.
    with pytest.raises(DuplicateUploadError):
        save(store, spec, couch_result(0.1, dt.datetime(2026, 1, 1), [InputFile("b.dcm", "cd" * 32, 10, "1.2.3", b"x")]), machine["id"])
    sid = save(store, spec, couch_result(0.1, dt.datetime(2026, 1, 1), [f]), machine["id"], allow_duplicate=True)
    assert store.session(sid)["files"][0]["sha256"] == "ab" * 32


def test_stored_file_is_content_addressed_inside_data_dir(store, machine, qc_data_dir):
    spec = get_test("couch")
    f = InputFile("../../etc/evil.dcm", "ef" * 32, 4, "", b"DATA")
    sid = save(store, spec, couch_result(0.1, dt.datetime(2026, 1, 1), [f]), machine["id"])
    path = store.session(sid)["files"][0]["stored_path"]
    assert (qc_data_dir / path).resolve().is_relative_to(qc_data_dir.resolve())
    assert store.file_bytes(path) == b"DATA"
    assert store.file_bytes("../outside") is None


def test_failed_write_leaves_nothing(store, machine, monkeypatch):
    spec = get_test("couch")
    before = store.counts()
    real_audit = store._audit

    def broken(*a, **k):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store, "_audit", broken)
    from qc.records.storage import StorageError

    with pytest.raises(StorageError):  # a disk error is one sentence for the user (issue 18)
        save(store, spec, couch_result(0.1, dt.datetime(2026, 1, 1)), machine["id"])
    monkeypatch.setattr(store, "_audit", real_audit)
    assert store.counts() == before


def test_void_hides_from_default_queries_and_is_audited(store, machine):
    spec = get_test("couch")
    sid = save(store, spec, couch_result(2.5, dt.datetime(2026, 3, 1)), machine["id"], operator="AG")
    assert len(store.metrics_frame(test="couch")) == 1
    with pytest.raises(ValueError):
        store.void_session(sid, "  ", "MB")
    store.void_session(sid, "fantôme mal positionné", "MB")
    assert store.metrics_frame(test="couch").empty
    assert len(store.metrics_frame(test="couch", include_voided=True)) == 1
    s = store.session(sid)
    assert s["voided"] == 1 and s["void_reason"] == "fantôme mal positionné" and s["voided_by"] == "MB"
    row = store.audit_frame().iloc[0]
    assert row["action"] == "void_session" and row["user"] == "MB" and "fantôme" in row["details"]


def test_calibration_by_date(store, machine):
    store.add_calibration(machine["id"], 512.0, 650.0, "2026-07-01", user="p")
    assert store.calibration_for(machine["id"], dt.datetime(2026, 6, 30)).v0 == 652.75
    assert store.calibration_for(machine["id"], dt.datetime(2026, 7, 2)).v0 == 650.0


def test_session_status_is_worst_of_metrics(store, machine):
    spec = get_test("laser")
    r = AnalysisResult(test="laser", measurements=[Measurement("laser_proximal_mm", 0.1, "mm"), Measurement("laser_distal_mm", 2.5, "mm")],
                       acquired_at=dt.datetime(2026, 1, 1))
    sid = save(store, spec, r, machine["id"])
    assert store.session(sid)["status"] == "fail"


def test_forward_migration_keeps_existing_rows(qc_data_dir):
    """A newer migration added later must leave earlier data intact (simulated with a temporary set)."""
    from sqlite_utils import Migrations

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity X")
        extra = Migrations("mrlinac-qc")
        for m in migrations._migrations:
            extra._migrations.append(m)

        @extra()
        def m999_add_room(db):
            db["machines"].add_column("room", str)

        extra.apply(s.db)
        assert s.machine_by_name("Unity X")["room"] is None
        assert [m.name for m in extra.applied(s.db)] == [m.name for m in migrations._migrations] + ["m999_add_room"]


def test_database_of_the_previous_version_is_migrated_in_place(qc_data_dir):
    """A database created before m002 (sign-offs) keeps its history when the new version opens it."""
    from sqlite_utils import Database

    qc_data_dir.mkdir(parents=True, exist_ok=True)
    old = Database(qc_data_dir / "qc.sqlite")
    migrations.apply(old, stop_before="m002_signoffs")
    assert "signoffs" not in old.table_names()
    old["machines"].insert({"name": "Unity old", "created_at": "2025-01-01", "active": 1})
    old["sessions"].insert({"test": "couch", "machine_id": 1, "acquired_at": "2025-02-03 08:00:00", "status": "pass", "voided": 0})
    old["metrics"].insert({"session_id": 1, "name": "couch_deviation_mm", "item": "", "value": 0.4, "status": "pass"})
    old.conn.close()
    with open_store(qc_data_dir) as s:
        assert "signoffs" in s.db.table_names()
        assert s.session(1)["metrics"][0]["value"] == 0.4
        assert s.machine_by_name("Unity old") is not None


def test_signoff_and_changes_after_it_are_flagged(store, machine):
    import time

    spec = get_test("couch")
    sid = save(store, spec, couch_result(0.3, dt.datetime(2026, 9, 10)), machine["id"], operator="AG")
    other = save(store, spec, couch_result(0.5, dt.datetime(2026, 9, 20)), machine["id"], operator="AG")
    store.sign_month(machine["id"], "2026-09", "Dr Martin", "RAS")
    assert store.changes_after_signoff(machine["id"], "2026-09") == []
    time.sleep(1.1)  # timestamps have one-second resolution
    store.void_session(sid, "erreur de saisie", "AG")
    changes = store.changes_after_signoff(machine["id"], "2026-09")
    assert [c["id"] for c in changes] == [sid] and changes[0]["changes"] == ["voided"]
    assert store.session_signoff_flag(sid) is not None and store.session_signoff_flag(other) is None
    with pytest.raises(ValueError):
        store.sign_month(machine["id"], "2026-09", " ")


def test_what_runs_with_a_stored_session_is_in_its_transaction(store, machine):
    """`store_analysis(then=…)` (the inbox marking its rows with the session): when `then` fails, the session is not
    stored either — a crash between the two cannot leave a stored session whose inbox rows still wait."""
    import datetime as dt

    from qc import pipeline
    from qc.registry import get_test

    spec = get_test("couch", store)
    analysis = pipeline.record_logged(store, spec, machine, {"couch_readout_1_cm": "17,5", "couch_readout_2_cm": "21,52"},
                                      acquired_at=dt.datetime(2026, 3, 2, 8, 0))
    before = store.counts()["sessions"]

    def fails(session_id: int) -> None:
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        pipeline.store_analysis(store, analysis, operator="receiver", then=fails)
    assert store.counts()["sessions"] == before
    seen = []
    sid = pipeline.store_analysis(store, analysis, operator="receiver", then=seen.append)
    assert seen == [sid]
