"""Automatic intake: where received objects wait, how they are routed and grouped, and when a group is analysed.

Owns the inbox of the data folder (`inbox/<sha256>.dcm` files plus the `inbox` table, migration m007) and the
path every automatically received object takes, whatever brought it (DICOM receiver, watched folder, PACS or
Orthanc retrieval):

1. `accept_object` writes the object durably (temporary file, fsync, rename, fsync of the folder) and records it
   in the inbox. Only after it returns may a sender be told "success": a crash or a restart then never loses an
   object the sender believes delivered (`recover_inbox` re-reads files whose row was not yet written). The
   same SOP Instance twice is kept once.
2. `route` names the machine (StationName / DeviceSerialNumber, as in Settings) and the test (rules on the
   header's text: patient, study, series, RT Image label, image type; editable in Settings). What cannot be
   routed waits as *unassigned* with the reason.
3. `process_inbox` groups the waiting objects of one machine and test acquired within a time window into one
   session and analyses it when it is complete (the expected number of images reached, or nothing new for
   `quiet_minutes`), through the same pipeline as an upload (`qc.pipeline`), stored *à valider* (review_state
   'pending'): nothing reaches History or the monthly report until a physicist confirms it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom

from qc.errors import QCInputError
from qc.records import intake as records_intake

log = logging.getLogger(__name__)

INBOX_DIR = "inbox"
RECEIVER_OPERATOR = "réception automatique"

# Routing rules: the first rule whose pattern matches the header text of its field names the test. The defaults are
# the rules each analyser module declares (`ROUTING`, a qc.spec.Routing; they follow the department's naming of its
# QC plans and patients: AQUA / MVIC fente / WL / MVIC), tried by their `order`; a department changes them in
# Settings (setting "intake.rules", JSON). MR objects are not routed one by one: a whole MR study is split by series
# content at analysis time (`MR_STUDY`, qc.mr.linac_series.route) among the tests whose routing says `mr_study`.
MR_STUDY = "mr-study"


def default_rules() -> list[dict[str, str]]:
    """The routing rules the analyser modules declare, in the order they are tried (imports every analyser)."""
    from qc.registry import routings

    declared = sorted(((r.order, i, key, r) for i, (key, r) in enumerate(routings()) if r.pattern and not r.mr_study))
    return [{"test": key, "field": r.field, "pattern": r.pattern, **({"modality": r.modality} if r.modality else {})}
            for _order, _i, key, r in declared]


def default_expected() -> dict[str, int]:
    """Images a complete session has, as the analyser modules declare them (a department changes them in Settings:
    "intake.expected", JSON)."""
    from qc.registry import routings

    return {key: r.expected_images for key, r in routings() if r.expected_images is not None}


def mr_study_tests() -> set[str]:
    """The tests an MR study is split among (their routing says `mr_study`)."""
    from qc.registry import routings

    return {key for key, r in routings() if r.mr_study}


DEFAULT_WINDOW_MINUTES = 60
DEFAULT_QUIET_MINUTES = 10


@dataclass(frozen=True)
class Header:
    """What routing reads of a received object (no pixel data)."""

    sop_instance_uid: str
    sop_class_uid: str
    modality: str
    study_uid: str
    station_name: str
    device_serial: str
    manufacturer: str
    acquired_at: dt.datetime | None
    text: str  # patient name/id, study id/description, series description, RT Image label: where plans are named
    image_type: str
    rejected_date: dt.datetime | None = None  # a placeholder or impossible header date, treated as no date

    @property
    def label(self) -> str:
        return self.text[:200]


def read_header(data: bytes) -> Header:
    """The routing header of a DICOM object, or QCInputError (not DICOM, no SOP Instance UID)."""
    import io

    from qc.readers.dicom_io import header_datetime

    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    except Exception as exc:  # noqa: BLE001 - any parse failure is "not DICOM" for the sender
        raise QCInputError("intake.err.not_dicom", error=type(exc).__name__) from exc
    uid = str(ds.get("SOPInstanceUID", "") or "")
    if not uid:
        raise QCInputError("intake.err.no_uid")
    text = " | ".join(
        str(ds.get(k, "") or "")
        for k in ("PatientName", "PatientID", "StudyID", "StudyDescription", "SeriesDescription", "RTImageLabel", "RTImageDescription")
    )
    when, _source, rejected = header_datetime(ds)
    return Header(
        sop_instance_uid=uid,
        sop_class_uid=str(ds.get("SOPClassUID", "") or getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", "") or ""),
        modality=str(ds.get("Modality", "") or ""),
        study_uid=str(ds.get("StudyInstanceUID", "") or ""),
        station_name=str(ds.get("StationName", "") or ""),
        device_serial=str(ds.get("DeviceSerialNumber", "") or ""),
        manufacturer=str(ds.get("Manufacturer", "") or ""),
        acquired_at=when,
        rejected_date=rejected,
        text=text,
        image_type="\\".join(str(x) for x in (ds.get("ImageType", []) or [])),
    )


# ------------------------------------------------------------------ durable write


def _fsync_dir(path: Path) -> None:
    """Make a rename durable: fsync the folder entry (POSIX; Windows has no directory handles)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(folder: Path, name: str, data: bytes) -> Path:
    """Write `data` to folder/name so that it survives a crash once this returns (tmp, fsync, rename, fsync dir)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    tmp = folder / f".{name}.{uuid.uuid4().hex}.part"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)
    return target


def inbox_dir(store) -> Path:
    return Path(store.data_dir) / INBOX_DIR


def accept_object(store, data: bytes, source: str, header: Header | None = None) -> int:
    """Keep one received object durably and record it in the inbox; returns its inbox id.

    Called before the sender is told "success". The same SOP Instance already in the inbox is not kept twice
    (its existing id is returned), so a sender that retries after a lost answer does not duplicate it.
    """
    header = header or read_header(data)
    sha = hashlib.sha256(data).hexdigest()
    existing = _inbox_row_for(store, header.sop_instance_uid)
    if existing is not None:
        return int(existing["id"])
    path = write_durably(inbox_dir(store), f"{sha}.dcm", data)
    return _record(store, header, sha, path, len(data), source)


def inbox_bytes(store) -> int:
    """Bytes of the objects the inbox folder holds now (rows whose file was swept count nothing)."""
    return records_intake.inbox_quota_used_bytes(store)


def sweep_inbox(store, need_bytes: int) -> tuple[int, int]:
    """Delete the oldest inbox files whose session was analysed AND reviewed (confirmed or rejected: the
    session keeps its own copy of every image) until `need_bytes` are freed or none is left; returns
    (files, bytes) swept. The rows stay (history, and a resent object is still known: not kept twice); their
    `path` is emptied and the sweep is in the audit log."""
    rows = records_intake.inbox_rows_sweepable(store)
    freed, ids = 0, []
    for r in rows:
        if freed >= need_bytes:
            break
        (Path(store.data_dir) / r["path"]).unlink(missing_ok=True)
        freed += int(r["size"] or 0)
        ids.append(r["id"])
    if ids:
        records_intake.mark_inbox_files_swept(store, ids, freed, RECEIVER_OPERATOR)
    return len(ids), freed


_room_lock = threading.Lock()


def make_room(store, size: int, quota_bytes: int) -> bool:
    """Whether an object of `size` bytes fits in the inbox quota, sweeping the oldest reviewed files first."""
    with _room_lock:  # two associations must not both count the same free space
        over = inbox_bytes(store) + size - quota_bytes
        if over > 0:
            sweep_inbox(store, over)
            over = inbox_bytes(store) + size - quota_bytes
        return over <= 0


def _inbox_row_for(store, sop_uid: str) -> dict | None:
    return records_intake.inbox_row_for_sop(store, sop_uid)


def _record(store, header: Header, sha: str, path: Path, size: int, source: str) -> int:
    # checked again inside the write transaction (records_intake): two associations may deliver the same object at once
    return records_intake.record_inbox_object(store, {
        "sha256": sha,
        "path": str(path.relative_to(store.data_dir)),
        "size": size,
        "sop_instance_uid": header.sop_instance_uid,
        "sop_class_uid": header.sop_class_uid,
        "source": source,
        "station_name": header.station_name,
        "device_serial": header.device_serial,
        "acquired_at": header.acquired_at.isoformat(sep=" ") if header.acquired_at else None,
        "label": header.label,
        "modality": header.modality,
        "study_uid": header.study_uid,
    })


def recover_inbox(store) -> int:
    """Record the inbox files whose row is missing (a crash between the durable write and the row); returns how many."""
    folder = inbox_dir(store)
    if not folder.exists():
        return 0
    for part in folder.glob(".*.part"):  # a write that never completed: the sender was never told success
        part.unlink(missing_ok=True)
    known = records_intake.inbox_hashes(store)
    n = 0
    for f in sorted(folder.glob("*.dcm")):
        sha = f.stem
        if sha in known:
            continue
        data = f.read_bytes()
        try:
            header = read_header(data)
        except QCInputError:
            continue
        _record(store, header, sha, f, len(data), "reprise après arrêt")
        n += 1
    return n


# ------------------------------------------------------------------ routing


def routing_rules(store) -> list[dict[str, str]]:
    raw = store.get_setting("intake.rules")
    return json.loads(raw) if raw else default_rules()


def expected_counts(store) -> dict[str, int]:
    raw = store.get_setting("intake.expected")
    return {**default_expected(), **(json.loads(raw) if raw else {})}


def _setting_float(store, key: str, default: float) -> float:
    raw = store.get_setting(key)
    try:
        return float(raw) if raw is not None else default
    except ValueError:
        return default


def route_test(header: Header, rules: list[dict[str, str]], known_tests: set[str]) -> str | None:
    """The test a header belongs to by the first matching rule (only tests this installation has)."""
    for rule in rules:
        if rule.get("modality") and rule["modality"] != header.modality:
            continue
        value = header.image_type if rule.get("field") == "image_type" else header.text
        if rule["test"] in known_tests and re.search(rule["pattern"], value, flags=re.IGNORECASE):
            return rule["test"]
    return None


def route_waiting(store, lang: str = "fr") -> None:
    """Give every newly received object its machine and test, or set it aside as unassigned with why."""
    from qc.i18n import t
    from qc.registry import all_tests

    rules = routing_rules(store)
    known = {s.key for s in all_tests(store) if s.analyse is not None}
    mr_study = mr_study_tests()
    rows = records_intake.inbox_rows_unrouted(store)
    for r in rows:
        machine = store.machine_for_identity(r["station_name"] or "", r["device_serial"] or "")
        data = (Path(store.data_dir) / r["path"]).read_bytes()
        try:
            header = read_header(data)
        except QCInputError as exc:
            _set(store, r["id"], state="unassigned", reason=exc.message(lang))
            continue
        test = MR_STUDY if header.modality == "MR" and known & mr_study else route_test(header, rules, known)
        if machine is None:
            reason = t("intake.unassigned.machine", lang, station=r["station_name"] or "—", serial=r["device_serial"] or "—")
            _set(store, r["id"], state="unassigned", reason=reason, test=test)
        elif test is None:
            reason = t("intake.unassigned.test", lang, label=header.label or "—", modality=header.modality or "—")
            _set(store, r["id"], state="unassigned", reason=reason, machine_id=machine["id"])
        elif header.acquired_at is None:
            from qc.readers.dicom_io import iso_day

            reason = (t("intake.unassigned.implausible_date", lang, date=iso_day(header.rejected_date))
                      if header.rejected_date else t("intake.unassigned.date", lang))
            _set(store, r["id"], state="unassigned", reason=reason, machine_id=machine["id"], test=test)
        else:
            _set(store, r["id"], machine_id=machine["id"], test=test)


def _set(store, inbox_id: int, **changes: Any) -> None:
    records_intake.update_inbox_rows(store, [inbox_id], changes)


def assign(store, inbox_ids: list[int], machine_id: int, test: str, user: str) -> None:
    """A physicist routes unassigned objects by hand (machine and test); they then wait like the others."""
    records_intake.update_inbox_rows_audited(
        store, inbox_ids, {"machine_id": machine_id, "test": test, "state": "waiting", "reason": "", "group_id": None},
        user=user, action="assign_inbox", details={"machine_id": machine_id, "test": test})


def set_aside(store, inbox_ids: list[int], reason: str, user: str) -> None:
    """A wrongly received object is set aside with a reason (state 'ignored'): kept on disk, audited, never erased."""
    if not reason.strip():
        raise QCInputError("err.review_reason")
    records_intake.update_inbox_rows_audited(store, inbox_ids, {"state": "ignored", "reason": reason.strip()},
                                             user=user, action="set_aside_inbox", details={"reason": reason.strip()})


def save_settings(store, *, rules: list[dict[str, str]], expected: dict[str, int], window_minutes: float,
                  quiet_minutes: float, user: str) -> None:
    """Routing rules, expected image counts and timing, checked before they are kept (each change audited)."""
    for rule in rules:
        if not {"test", "pattern"} <= set(rule):
            raise QCInputError("intake.err.rule", rule=json.dumps(rule, ensure_ascii=False))
        try:
            re.compile(rule["pattern"])
        except re.error as exc:
            raise QCInputError("intake.err.pattern", pattern=rule["pattern"], error=str(exc)) from exc
    if window_minutes <= 0 or quiet_minutes <= 0 or any(int(v) < 1 for v in expected.values()):
        raise QCInputError("intake.err.numbers")
    store.set_setting("intake.rules", json.dumps(rules, ensure_ascii=False), user=user)
    store.set_setting("intake.expected", json.dumps({k: int(v) for k, v in expected.items()}), user=user)
    store.set_setting("intake.window_minutes", str(window_minutes), user=user)
    store.set_setting("intake.quiet_minutes", str(quiet_minutes), user=user)


# ------------------------------------------------------------------ grouping and analysis


@dataclass
class Group:
    machine_id: int
    test: str
    rows: list[dict]

    @property
    def last_received(self) -> dt.datetime:
        return max(dt.datetime.fromisoformat(r["received_at"]) for r in self.rows)


def waiting_groups(store) -> list[Group]:
    """Routed waiting objects of one machine and test, acquired within the time window of the group's first image."""
    window = dt.timedelta(minutes=_setting_float(store, "intake.window_minutes", DEFAULT_WINDOW_MINUTES))
    rows = records_intake.inbox_rows_routed_waiting(store, MR_STUDY)
    groups: list[Group] = []
    for r in rows:
        when = dt.datetime.fromisoformat(r["acquired_at"])
        g = groups[-1] if groups else None
        same = g and g.machine_id == r["machine_id"] and g.test == r["test"]
        if same and r["test"] == MR_STUDY:
            same = g.rows[0]["study_uid"] == r["study_uid"]  # an MR study is one group, however long it took
        elif same:
            same = when - dt.datetime.fromisoformat(g.rows[0]["acquired_at"]) <= window
        if same:
            g.rows.append(r)
        else:
            groups.append(Group(r["machine_id"], r["test"], [r]))
    return groups


def process_inbox(store, now: dt.datetime | None = None, lang: str = "fr", force: bool = False) -> list[dict]:
    """Route new objects, then analyse every complete group; returns one line per group handled.

    A group is complete when it has the test's expected number of images, or when nothing new arrived for
    `quiet_minutes` (or `force`). Its session is stored *à valider*; a group whose analysis fails is set
    aside (state 'failed') with the analyser's sentence, nothing stored.
    """
    from qc import pipeline
    from qc.registry import get_test

    now = now or dt.datetime.now()
    route_waiting(store, lang)
    expected = expected_counts(store)
    quiet = dt.timedelta(minutes=_setting_float(store, "intake.quiet_minutes", DEFAULT_QUIET_MINUTES))
    done = []
    for g in waiting_groups(store):
        n_expected = expected.get(g.test)
        complete = (n_expected is not None and len(g.rows) >= n_expected) or force or now - g.last_received >= quiet
        if not complete:
            continue
        ids = [r["id"] for r in g.rows]
        if g.test == MR_STUDY:
            done += _process_mr_study(store, g, lang)
            continue
        try:
            spec = get_test(g.test, store)
            inputs = received_inputs(store, g.rows)
            analysis = pipeline.analyse(store, spec, inputs, store.machine(g.machine_id), lang=lang)
            # the rows marked analysed in the session's own transaction: a crash cannot leave them waiting
            sid = pipeline.store_analysis(store, analysis, operator=RECEIVER_OPERATOR, review_state="pending",
                                          then=lambda sid, ids=ids: records_intake.update_inbox_rows(
                                              store, ids, {"state": "analysed", "session_id": sid, "group_id": sid}))
        except QCInputError as exc:
            reason = exc.message(lang)
            records_intake.update_inbox_rows(store, ids, {"state": "failed", "reason": reason})
            done.append({"test": g.test, "machine_id": g.machine_id, "images": len(ids), "session_id": None, "error": reason})
            continue
        done.append({"test": g.test, "machine_id": g.machine_id, "images": len(ids), "session_id": sid, "status": analysis.status})
    return done


def _process_mr_study(store, g: Group, lang: str) -> list[dict]:
    """An MR study split by series content into the MR-Linac tests; each test's series analysed and stored
    *à valider*; series that belong to no test are said (the rows stay unassigned with the reason)."""
    from qc import pipeline
    from qc.mr.linac_series import route, series_inputs
    from qc.registry import get_test

    ids = [r["id"] for r in g.rows]
    inputs = received_inputs(store, g.rows)
    out: list[dict] = []
    try:
        routed, notes = route(inputs, lang)
    except QCInputError as exc:
        routed, notes = {}, [exc.message(lang)]
    first_sid = None
    for test, series in routed.items():
        files = series_inputs(series)
        try:
            analysis = pipeline.analyse(store, get_test(test, store), files, store.machine(g.machine_id), lang=lang)
            sid = pipeline.store_analysis(store, analysis, operator=RECEIVER_OPERATOR, review_state="pending")
        except QCInputError as exc:
            notes.append(f"{get_test(test, store).name(lang)} : {exc.message(lang)}")
            out.append({"test": test, "machine_id": g.machine_id, "images": len(files), "session_id": None, "error": exc.message(lang)})
            continue
        first_sid = first_sid or sid
        out.append({"test": test, "machine_id": g.machine_id, "images": len(files), "session_id": sid, "status": analysis.status})
    if first_sid is not None:
        records_intake.update_inbox_rows(store, ids, {"state": "analysed", "session_id": first_sid, "group_id": first_sid,
                                                      "reason": " ; ".join(notes)})
    else:
        records_intake.update_inbox_rows(store, ids, {"state": "unassigned", "reason": " ; ".join(notes) or "—"})
    return out


def received_inputs(store, rows: list[dict]) -> list[tuple[str, bytes]]:
    """The (name, bytes) inputs of received objects, as an upload would give them: received objects have no
    file name, so they are named by their order in the session (image_01.dcm …)."""
    width = 3 if len(rows) > 99 else 2
    return [(f"image_{i:0{width}d}.dcm", (Path(store.data_dir) / r["path"]).read_bytes()) for i, r in enumerate(rows, start=1)]


def session_inputs(store, session_id: int) -> list[tuple[str, bytes]]:
    """The received objects a stored session was analysed from (empty for an uploaded session)."""
    return received_inputs(store, records_intake.inbox_paths_of_session(store, session_id))


def inbox_rows(store, states: tuple[str, ...] = ("waiting", "unassigned", "failed")) -> list[dict]:
    """The inbox as a physicist reviews it: what waits, what could not be routed or analysed, and why."""
    return records_intake.inbox_rows_in_states(store, states)
