"""The demo database: a few months of realistic history for one Unity, built from synthetic inputs.

Every image session in it is a real analysis of synthetic DICOM images (qc.synthetic) through the
same analysers and storage as user uploads; logged tests are typed values going through the same
form logic. The history includes a drift (MVIC-Champ X size creeping up, daily output drifting after its recalibration, helium decline
accelerating) and some out-of-tolerance days with comments, plus a voided session.
Only the latest sessions keep their images on disk (size). Image and report tests cover the
latest `DEMO_IMAGE_WEEKS` weeks (the images are what makes the build slow), logged tests all
`DEMO_WEEKS`. The database is flagged `demo = 1`,
and the app says so on every page.

Built in a temporary folder and moved into place, so an interrupted build leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

import numpy as np

from qc.config import DB_FILENAME, data_dir as default_data_dir
from qc.registry import all_tests, get_test
from qc.records.storage import Store, open_store

DEMO_MACHINE = "Unity 1 (démo)"
DEMO_STATION = "UNITY-DEMO"
DEMO_SERIAL = "DEMO-0001"
DEMO_CAX = (511.03, 652.75)
DEMO_WEEKS = 14
# Image and report tests get the latest weeks only: their synthetic images cost ≈ 3.5 s of CPU per
# week to generate and analyse (70 % of the build), and 6 weekly sessions already show a trend, a
# drift, an out-of-tolerance week and a voided session. Logged tests keep the whole period.
DEMO_IMAGE_WEEKS = 6
DEMO_OPERATORS = ("AG", "MB", "CL")


class RealDatabaseExists(Exception):
    pass


def demo_period(today: dt.date | None = None, weeks: int = DEMO_WEEKS) -> tuple[dt.date, dt.date]:
    today = today or dt.date.today()
    end = today - dt.timedelta(days=1)
    return end - dt.timedelta(weeks=weeks), end


def _working_days(start: dt.date, end: dt.date):
    d = start
    while d <= end:
        if d.weekday() < 5:
            yield d
        d += dt.timedelta(days=1)


def _weekly(start: dt.date, end: dt.date, weekday: int):
    d = start + dt.timedelta(days=(weekday - start.weekday()) % 7)
    while d <= end:
        yield d
        d += dt.timedelta(days=7)


def _monthly(start: dt.date, end: dt.date, day: int):
    y, m = start.year, start.month
    while True:
        d = dt.date(y, m, min(day, 28))
        if d > end:
            return
        if d >= start:
            yield d
        y, m = (y, m + 1) if m < 12 else (y + 1, 1)


def build_demo(data_dir: Path | str | None = None, force: bool = False, today: dt.date | None = None, weeks: int = DEMO_WEEKS) -> dict:
    """Build the demo database in `data_dir` (default: the app's data folder). Returns a summary.

    Refuses to replace a database that is not a demo one (a user's history is never overwritten).
    """
    target = Path(data_dir) if data_dir is not None else default_data_dir()
    target.mkdir(parents=True, exist_ok=True)
    if (target / DB_FILENAME).exists():
        with Store(target) as existing:
            is_demo = existing.get_setting("demo") == "1"
            n = existing.db["sessions"].count
        if not is_demo and n > 0:
            raise RealDatabaseExists(f"{target / DB_FILENAME} holds real QC history; the demo is not built over it. Set QC_DATA_DIR to another folder.")
        if not force:
            with Store(target) as existing:
                return _summary(existing, target)
    tmp = Path(tempfile.mkdtemp(prefix=".demo-build-", dir=target))
    try:
        store = open_store(tmp)
        try:
            _populate(store, today or dt.date.today(), weeks)
            summary = _summary(store, target)
        finally:
            store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            store.close()
        for suffix in ("", "-wal", "-shm"):
            (target / (DB_FILENAME + suffix)).unlink(missing_ok=True)
        if (target / "files").exists():
            shutil.rmtree(target / "files")
        shutil.move(str(tmp / "files"), str(target / "files"))
        shutil.move(str(tmp / DB_FILENAME), str(target / DB_FILENAME))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary


def _summary(store: Store, target: Path) -> dict:
    return {
        "path": str(target),
        "sessions": store.db["sessions"].count,
        "metrics": store.db["metrics"].count,
        "machine": DEMO_MACHINE,
    }


def _populate(store: Store, today: dt.date, weeks: int) -> None:
    store.set_setting("demo", "1", "démo")
    mid = store.add_machine(DEMO_MACHINE, DEMO_STATION, DEMO_SERIAL, "Elekta Unity", user="démo")
    start, end = demo_period(today, weeks)
    store.add_calibration(mid, *DEMO_CAX, (start - dt.timedelta(days=60)).isoformat(), user="démo", comment="Calibration du département (procédure MVIC)")
    rng = np.random.default_rng(20261121)
    machine = store.machine(mid)
    _logged_history(store, machine, start, end, rng)
    _image_history(store, machine, start, end, rng)
    _latest_only(store, machine)
    demo_signatures(store, end)


def _operator(rng) -> str:
    return str(rng.choice(DEMO_OPERATORS))


def _record(store: Store, machine: dict, key: str, when: dt.datetime, values: dict, rng, comments: dict | None = None, comment: str = "") -> int:
    from qc import pipeline

    spec = get_test(key, store)
    analysis = pipeline.record_logged(store, spec, machine, values, acquired_at=when, comments=comments)
    return pipeline.store_analysis(store, analysis, operator=_operator(rng), comment=comment, is_demo=True)


def _logged_history(store: Store, machine: dict, start: dt.date, end: dt.date, rng) -> None:
    from qc.records.logged import SAFETY_ITEMS

    # Daily safety checks; one door-interlock failure with its comment.
    days = list(_working_days(start, end))
    bad_day = days[len(days) // 3] if days else None
    for d in days:
        values = {k: True for k, _, _ in SAFETY_ITEMS}
        comments = {}
        comment = ""
        if d == bad_day:
            values["safety_door_interlock"] = False
            comments["safety_door_interlock"] = "Contact de porte défectueux ; technicien Elekta appelé, réparé à 11 h, re-testé conforme."
            comment = "Traitements reportés de 2 h."
        _record(store, machine, "safety", dt.datetime.combine(d, dt.time(7, 30)), values, rng, comments, comment)

    # Helium: slow decline, a refill, then an accelerating decline at the end (the drift to notice).
    level = 79.0
    weeks = list(_weekly(start, end, 0))
    refill_at = len(weeks) // 2
    for i, d in enumerate(weeks):
        comment = ""
        if i == refill_at:
            level = 93.0
            comment = "Remplissage hélium par Philips."
        elif i > 0:
            level -= 0.25 if i < len(weeks) - 4 else 1.3
        level_read = round(level + rng.normal(0, 0.1), 1)
        _record(store, machine, "helium", dt.datetime.combine(d, dt.time(8, 10)), {"helium_level_pct": level_read}, rng, comment=comment)

    # Monthly logged tests.
    for i, d in enumerate(_monthly(start, end, 5)):
        when = dt.datetime.combine(d, dt.time(18, 0))
        dev = [0.3, 0.6, 0.9, 1.7][min(i, 3)]
        _record(store, machine, "couch", when, {"couch_readout_1_cm": "17,5", "couch_readout_2_cm": f"{21.5 + dev / 10:.2f}".replace(".", ",")}, rng,
                comment="Écart en augmentation : à surveiller." if dev > 1.5 else "")
        lasers = {"laser_proximal_mm": round(rng.normal(0, 0.5), 1), "laser_central_mm": round(rng.normal(0, 0.4), 1), "laser_distal_mm": round(rng.normal(0, 0.5), 1)}
        comment = ""
        if i == 1:
            lasers["laser_distal_mm"] = 2.4
            comment = "Laser distal recalé par le technicien le lendemain."
        _record(store, machine, "laser", when, lasers, rng, comment=comment)
        _record(
            store, machine, "quasar", when,
            {"gating_latency_ok": True, "gating_latency_ms": round(float(rng.normal(62, 8))), "quasar_dx_mm": round(rng.normal(0, 0.5), 1),
             "quasar_dy_mm": round(rng.normal(0, 0.5), 1), "quasar_dz_mm": round(rng.normal(0.3, 0.5), 1), "gating_latency_reason": ""},
            rng,
        )
        _record(store, machine, "beam_quality", when, {"d20_d10": round(0.704 + 0.002 * i + rng.normal(0, 0.001), 4),
                                                        "d15_d5": round(0.723 + rng.normal(0, 0.001), 4)}, rng)

    # MR-to-MV alignment, weekly over the last 25 weeks: the Z offset steps by +0.25 mm (2.5 sigma, inside the
    # ±0.75 mm warning) after a software upgrade that nobody recorded as a machine event: the control
    # chart's step detector proposes the event at that date (qc.reporting.spc).
    mrmv_weeks = list(_weekly(end - dt.timedelta(weeks=25), end, 2))
    upgrade_at = 20
    for i, d in enumerate(mrmv_weeks):
        after = i >= upgrade_at
        _record(store, machine, "mr_mv", dt.datetime.combine(d, dt.time(18, 30)),
                {"mrmv_x_mm": round(rng.normal(0.3, 0.1), 2), "mrmv_y_mm": round(rng.normal(-0.2, 0.1), 2),
                 "mrmv_z_mm": round(rng.normal(0.55 if after else 0.3, 0.1), 2), "mrmv_rotation_deg": round(rng.normal(0.05, 0.03), 2),
                 "mrmv_last_calibration": (mrmv_weeks[upgrade_at] if after else start - dt.timedelta(days=60)).isoformat()}, rng,
                comment="Première vérification après la mise à jour logicielle Unity." if i == upgrade_at else "")

    # Daily output: a chamber reading corrected for temperature and pressure, level for 5 weeks (the control chart's
    # baseline is the first 20 results), then drifting up by 0.055 % a working day: the control chart signals it
    # weeks before the first result beyond the 2 % tolerance (qc.reporting.spc).
    for k, d in enumerate(days):
        t_c, p_kpa = round(float(rng.normal(21.5, 0.8)), 1), round(float(rng.normal(101.3, 0.6)), 2)
        k_tp = (273.15 + t_c) / 293.15 * 101.325 / p_kpa
        drift_pct = 0.1 + 0.055 * max(0, k - 25)
        corrected = 20.0 * (1 + drift_pct / 100 + rng.normal(0, 0.002))
        _record(store, machine, "output", dt.datetime.combine(d, dt.time(7, 45)),
                {"chamber_reading": round(corrected / k_tp, 3), "temperature_c": t_c, "pressure_kpa": p_kpa, "reference_reading": 20.0}, rng)


# Tests with one demo session each (their latest), so that Home shows them done: the analyses are real, of
# the test's own demo input (qc.demo_inputs), stored like an upload.
LATEST_ONLY = ("wl", "mr-snr", "mr-uniformity", "mr-ghosting", "mr-slice-thickness", "mr-geometry", "mr-resolution", "mr-acr",
               "mr-b0", "mr-b0-gantry", "mr-b1", "mr-geometry-3d")


def _latest_only(store: Store, machine: dict) -> None:
    from qc import pipeline
    from qc.demo_inputs import demo_inputs_for
    from qc.registry import get_test

    rng = np.random.default_rng(7)
    for key in LATEST_ONLY:
        make = demo_inputs_for(key)
        if make is None:
            continue
        spec = get_test(key, store)
        analysis = pipeline.analyse(store, spec, make(), machine)
        pipeline.store_analysis(store, analysis, operator=_operator(rng), is_demo=True, keep_files=False)


# Each image/report test's demo history is a list of recipes (acquired_at, module, function, kwargs,
# comment): picklable, so that the images are generated by a pool of processes while this process
# analyses and stores them in order.


def _piqt_sessions(start: dt.date, end: dt.date, seed: int) -> list[tuple]:
    first = start + dt.timedelta(days=(2 - start.weekday()) % 7)  # Wednesdays
    n = max(1, (end - first).days // 7 + 1)
    return [
        (dt.datetime.combine(first + dt.timedelta(weeks=k), dt.time(7, 30)), "qc.demo", "_piqt_report", {"first": first, "k": k, "seed": seed}, "")
        for k in range(n)
    ]


def _piqt_report(first: dt.date, k: int, seed: int) -> list[tuple[str, bytes]]:
    from qc.synthetic.piqt import weekly_reports

    return [weekly_reports(first + dt.timedelta(weeks=k), 1, seed + k)[0]]


def _field_sessions(start: dt.date, end: dt.date, seed: int) -> list[tuple]:
    """Weekly MVIC-Champ: the fields grow slowly (drift), one week is out of tolerance."""
    days = list(_weekly(start, end, 1))  # Tuesdays
    bad = len(days) // 3
    out = []
    for i, d in enumerate(days):
        when = dt.datetime.combine(d, dt.time(7, 45))
        drift = 0.045 * i
        comment = ""
        if i == bad:
            drift = 1.25
            comment = "Champs trop grands : calibration des diaphragmes vérifiée par Elekta, refait conforme la semaine suivante."
        kwargs = {"acquired_at": when, "rng_seed": seed + i, "size_drift_mm": drift, "centre_drift_mm": (0.02 * i, -0.01 * i)}
        out.append((when, "qc.synthetic.field", "demo_session", kwargs, comment))
    return out


def _leaves_sessions(start: dt.date, end: dt.date, seed: int) -> list[tuple]:
    """Weekly leaf positions: undisturbed, with one week of the AQUA error plan (5/10/15 mm blocks)."""
    days = list(_weekly(start, end, 3))  # Thursdays
    bad = 2 * len(days) // 3
    out = []
    for i, d in enumerate(days):
        when = dt.datetime.combine(d, dt.time(7, 50))
        kwargs = {"acquired_at": when, "seed": seed + i, "errors": "staircase" if i == bad else None}
        comment = "Plan d'erreurs AQUA délivré volontairement (contrôle positif)." if i == bad else ""
        out.append((when, "qc.synthetic.mlc", "demo_session_leaves", kwargs, comment))
    return out


def _slits_sessions(start: dt.date, end: dt.date, seed: int) -> list[tuple]:
    """Weekly slits; leaf pair 45 bank B drifts by 0.12 mm a week over the last month."""
    days = list(_weekly(start, end, 3))
    out = []
    for i, d in enumerate(days):
        when = dt.datetime.combine(d, dt.time(8, 5))
        late = max(0, i - (len(days) - 5))
        kwargs = {"acquired_at": when, "seed": seed + i, "errors": {(45, "B"): 0.12 * late} if late else None}
        out.append((when, "qc.synthetic.mlc", "demo_session_slits", kwargs, ""))
    return out


DEMO_SESSIONS = {
    "field": _field_sessions,
    "leaves": _leaves_sessions,
    "slits": _slits_sessions,
    "piqt": _piqt_sessions,
}


def _make_inputs(recipe: tuple) -> list[tuple[str, bytes]]:
    import importlib

    _, module, function, kwargs, _ = recipe
    return getattr(importlib.import_module(module), function)(**kwargs)


def _image_history(store: Store, machine: dict, start: dt.date, end: dt.date, rng) -> None:
    """Image and report tests: real analyses of synthetic inputs through the same workflow as uploads."""
    import importlib
    import multiprocessing
    import os
    import sys
    from concurrent.futures import ProcessPoolExecutor

    from qc import pipeline
    from qc.registry import _load_analysers

    start = max(start, end - dt.timedelta(weeks=DEMO_IMAGE_WEEKS))
    plans = []
    for spec in _load_analysers():
        make = DEMO_SESSIONS.get(spec.key)
        if make is not None:
            plans.append((spec, make(start, end, int(rng.integers(1 << 31)))))
    recipes = [r for _, rs in plans for r in rs]
    workers = max(1, min(4, (os.cpu_count() or 1)))
    # fork where it exists (Linux): a spawned child re-runs the parent's __main__, which is app.py
    # when the demo is built from the app or under AppTest; on Windows (spawn) __main__ is
    # streamlit's or qc's guarded entry point.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() and os.name == "posix" and sys.platform != "darwin" else "spawn"
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        made = pool.map(_make_inputs, recipes, chunksize=2)
        for spec, sessions in plans:
            module = importlib.import_module(spec.analyse.__module__)
            for i, (when, _, _, _, comment) in enumerate(sessions):
                inputs = next(made)
                analysis = pipeline.analyse(store, spec, inputs, machine)
                keep = i >= len(sessions) - 2
                sid = pipeline.store_analysis(store, analysis, operator=_operator(rng), comment=comment, is_demo=True, keep_files=keep)
                if i == 0 and hasattr(module, "baseline_from_result"):
                    store.set_baseline(machine["id"], spec.key, module.baseline_from_result(analysis.result), sid, "démo", valid_from=str(when))
            if len(sessions) > 3:
                # One session voided, as a physicist would after a wrong set-up.
                victim = store.sessions_frame(machine_id=machine["id"], test=spec.key).iloc[-2]
                store.void_session(int(victim["id"]), "Mauvais positionnement du fantôme ; séance refaite.", "démo")


DEMO_SIGNERS = ("Dr C. Lefèvre", "M. Bernard")


def demo_signatures(store: Store, end: dt.date, unsigned_days: int = 14) -> int:
    """Signatures on the demo's results (issue #27): every session acquired more than `unsigned_days` before the
    demo's last day is signed, the failing ones « Approuvé » with a comment, the others « Relu »; a few « Relu »
    later superseded by « Approuvé » (a correction is a new signature); the latest ones stay unsigned, so Home lists
    results waiting for a signature. The demo runs without authentication: the signatures are typed names, shown
    as not verified by a password, as they would be in that mode. One note on one measurement of a failing session.
    Returns the number of signatures stored."""
    from qc.records.signatures import add_leaf_comment, sign_session

    cutoff = (end - dt.timedelta(days=unsigned_days)).isoformat()
    rows = list(store.db.query("select id, status, acquired_at from sessions where voided = 0 and review_state != 'pending' and acquired_at < ? "
                               "order by acquired_at, id", [cutoff]))
    n = 0
    noted = False
    for i, r in enumerate(rows):
        signer = DEMO_SIGNERS[i % len(DEMO_SIGNERS)]
        if r["status"] in ("fail", "warning"):
            sign_session(store, r["id"], "approved", signer=signer, verified=False, comment="Écart vu ; action notée dans le cahier de la machine.")
            n += 1
            if not noted:
                metric = next(iter(store.db.query("select name, item from metrics where session_id = ? and status in ('fail', 'warning') "
                                                  "order by id limit 1", [r["id"]])), None)
                if metric is not None:
                    add_leaf_comment(store, r["id"], metric["name"], metric["item"] or "", "Valeur recontrôlée le lendemain : conforme.", signer)
                    noted = True
            continue
        sign_session(store, r["id"], "reviewed", signer=signer, verified=False)
        n += 1
        if i % 10 == 0:
            sign_session(store, r["id"], "approved", signer=DEMO_SIGNERS[0], verified=False)
            n += 1
    return n
