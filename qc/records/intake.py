"""The inbox of automatic intake (table `inbox`, migration m007): one row per object received over DICOM, from a
watched folder or a PACS, with its file in the data folder (`path`, emptied once the file is swept), what its
header says (station, serial, date, label, modality, study), where it was routed (machine, test) and its state
(waiting, analysed, unassigned, failed, ignored) with the reason.

Every inbox statement of the app is here (`qc.intake` decides what to do; this module reads and writes the rows),
the quota's among them, so that the receiver's and the inbox's changes meet in one place. A change a person makes
(assigning, setting aside) is audited in the same transaction; a change the intake makes by itself is not.
"""

from __future__ import annotations

from typing import Any

from qc.records.base import now_iso

WAITING_STATES = ("waiting", "unassigned", "failed")


def inbox_quota_used_bytes(store) -> int:
    """Bytes of the objects the inbox folder holds now (rows whose file was swept count nothing)."""
    row = store.db.execute("select coalesce(sum(size), 0) from inbox where path != ''").fetchone()
    return int(row[0])


def inbox_rows_sweepable(store) -> list[dict]:
    """Inbox rows (id, path, size) still holding a file whose session was analysed and reviewed (confirmed or
    rejected: the session keeps its own copy of every image), oldest received first."""
    return [dict(r) for r in store.db.query(
        "select i.id, i.path, i.size from inbox i join sessions s on s.id = i.session_id "
        "where i.state = 'analysed' and i.path != '' and s.review_state != 'pending' order by i.received_at, i.id")]


def mark_inbox_files_swept(store, inbox_ids: list[int], freed_bytes: int, user: str) -> None:
    """The files of these rows were deleted: their `path` is emptied (the rows stay), with one audit row."""
    with store.write() as db:
        db.execute(f"update inbox set path = '' where id in ({','.join('?' * len(inbox_ids))})", list(inbox_ids))
        store._audit(user, "inbox_swept", "inbox", "", {"files": len(inbox_ids), "bytes": freed_bytes})


def inbox_row_for_sop(store, sop_instance_uid: str) -> dict | None:
    """The first inbox row of this SOP Instance, or None."""
    rows = list(store.db.query("select * from inbox where sop_instance_uid = ? order by id limit 1", [sop_instance_uid]))
    return dict(rows[0]) if rows else None


def record_inbox_object(store, row: dict[str, Any]) -> int:
    """Insert a received object's row ('waiting', received now) unless its SOP Instance is already in the inbox;
    returns its id. Checked inside the write transaction: two associations may deliver the same object at once."""
    with store.write() as db:
        found = db.execute("select id from inbox where sop_instance_uid = ? limit 1", [row["sop_instance_uid"]]).fetchone()
        if found is not None:
            return int(found[0])
        iid = db["inbox"].insert({**row, "received_at": now_iso(), "state": "waiting", "reason": ""}).last_pk
    return int(iid)


def inbox_hashes(store) -> set[str]:
    """The sha256 of every object the inbox has a row for."""
    return {r["sha256"] for r in store.db.query("select sha256 from inbox")}


def inbox_rows_unrouted(store) -> list[dict]:
    """Waiting rows not yet given a test (newly received), in the order received."""
    return [dict(r) for r in store.db.query("select * from inbox where state = 'waiting' and test is null order by id")]


def inbox_rows_routed_waiting(store, study_test: str) -> list[dict]:
    """Waiting rows with a machine and a test, by machine, test, (for `study_test`: study), acquisition date."""
    return [dict(r) for r in store.db.query(
        "select * from inbox where state = 'waiting' and test is not null and machine_id is not null "
        "order by machine_id, test, case when test = ? then study_uid else '' end, acquired_at, id", [study_test])]


def update_inbox_rows(store, inbox_ids: list[int], changes: dict[str, Any]) -> None:
    """The same changes to each of these rows, in one transaction (a change the intake makes: not audited)."""
    with store.write() as db:
        for i in inbox_ids:
            db["inbox"].update(i, changes)


def update_inbox_rows_audited(store, inbox_ids: list[int], changes: dict[str, Any], *, user: str, action: str, details: dict) -> None:
    """The same changes to each of these rows and one audit row naming them, in one transaction (a person's change)."""
    with store.write() as db:
        for i in inbox_ids:
            db["inbox"].update(i, changes)
        store._audit(user, action, "inbox", ",".join(map(str, inbox_ids)), details)


def inbox_paths_of_session(store, session_id: int) -> list[dict]:
    """The rows ({path}) of the received objects a session was analysed from, in the order received."""
    return [dict(r) for r in store.db.query("select path from inbox where session_id = ? order by id", [session_id])]


def inbox_rows_in_states(store, states: tuple[str, ...] = WAITING_STATES) -> list[dict]:
    """Every row in one of `states`, in the order received."""
    q = ",".join("?" * len(states))
    return [dict(r) for r in store.db.query(f"select * from inbox where state in ({q}) order by received_at, id", list(states))]


def inbox_files_to_view(store, limit: int = 500) -> list[dict]:
    """The newest received objects whose file is still in the inbox (swept ones are gone): path, session_id, test,
    received_at, label."""
    return [dict(r) for r in store.db.query(
        "select path, session_id, test, received_at, label from inbox where path != '' order by received_at desc, id limit ?",
        [limit])]
