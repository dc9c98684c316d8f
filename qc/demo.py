"""The demo database: a few months of realistic history for one Unity, built from synthetic inputs.

Every image session in it is a real analysis of synthetic DICOM images (qc.synthetic) through the
same analysers and storage as user uploads; logged tests are typed values going through the same
form logic. The history includes a drift (MVIC-Champ X size creeping up, daily output drifting after its recalibration, helium decline
accelerating) and some out-of-tolerance days with comments, plus a voided session.
Only the latest sessions keep their images on disk (size); the older ones are regenerated exactly
from their recipe on demand (`regenerate_inputs`, checked against the stored sha256). What the demo
holds of each image/report test is declared in its analyser module (`DEMO`, `qc.spec.DemoSessions`):
the weekly MV image and PIQT tests cover the latest `DEMO_IMAGE_WEEKS` weeks (the images are what
makes the build slow), the MR tests and Winston-Lutz the last full month and the current one at
their frequency; logged tests all `DEMO_WEEKS`. The database is flagged `demo = 1`,
and the app says so on every page.

Built in a temporary folder and moved into place, so an interrupted build leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from qc.config import DB_FILENAME, data_dir as default_data_dir
from qc.registry import all_tests, demo_declarations, demo_sessions, get_test
from qc.records.storage import Store, open_store
from qc.spec import DemoSessions

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


def build_demo(data_dir: Path | str | None = None, force: bool = False, today: dt.date | None = None, weeks: int = DEMO_WEEKS,
               images: str = "now") -> dict:
    """Build the demo database in `data_dir` (default: the app's data folder). Returns a summary.

    `images="now"` generates, analyses and stores every image session before returning (`python -m qc demo`,
    the tests); `images="later"` returns once the logged history and the plan of the image sessions are in
    place, and the caller runs `start_demo_completion` (the app's first start: the first page shows at once).
    Refuses to replace a database that is not a demo one (a user's history is never overwritten).
    """
    from qc.records.sessions import sessions_count

    target = Path(data_dir) if data_dir is not None else default_data_dir()
    target.mkdir(parents=True, exist_ok=True)
    if (target / DB_FILENAME).exists():
        with Store(target) as existing:
            is_demo = existing.get_setting("demo") == "1"
            n = sessions_count(existing)
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
            if images == "now":
                complete_demo(tmp, store=store)
            summary = _summary(store, target)
        finally:
            store.checkpoint()
            store.close()
        for suffix in ("", "-wal", "-shm"):
            (target / (DB_FILENAME + suffix)).unlink(missing_ok=True)
        for folder in ("files", PLAN_DIR):
            if (target / folder).exists():
                shutil.rmtree(target / folder)
            if (tmp / folder).exists():
                shutil.move(str(tmp / folder), str(target / folder))
        shutil.move(str(tmp / DB_FILENAME), str(target / DB_FILENAME))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary


def _summary(store: Store, target: Path) -> dict:
    from qc.records.sessions import metrics_count, sessions_count

    return {
        "path": str(target),
        "sessions": sessions_count(store),
        "metrics": metrics_count(store),
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
    _write_json(_plan_path(store.data_dir), image_plan(start, end, rng))
    demo_signatures(store, end)  # the logged sessions now; the image sessions when the background build stores them


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


# ------------------------------------------------------------------ image and report sessions
#
# Every image/report session of the demo is a recipe: the generator its test declares (the analyser module's `DEMO`,
# a `qc.spec.DemoSessions`: no list of tests here) and its arguments (plain JSON: dates as ISO text, seeds,
# drifts). The recipes are written to `demo/plan.json`
# beside the database, then generated, analysed and stored in that order by `complete_demo`: at once for
# `python -m qc demo` and the tests, in a background process (niced) when the app builds the demo on first
# start, so that the first page shows after the logged history is in (≈ 1 s) and fills in while one looks.
# Each stored session's recipe index is kept in `demo/progress.json`; UIDs come from `reproducible_uids`
# keyed by the recipe, so `regenerate_inputs` writes the same bytes again, checked against the sha256
# stored with the session (the older sessions keep no image files: their images are regenerated on demand).

PLAN_DIR = "demo"


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _recipe(test: str, at: dt.datetime, gen: str, comment: str = "", **args) -> dict:
    return {"test": test, "when": at.isoformat(), "gen": gen, "args": args, "comment": comment}


def _month_start(d: dt.date, back: int = 0) -> dt.date:
    y, m = d.year, d.month - back
    while m < 1:
        y, m = y - 1, m + 12
    return dt.date(y, m, 1)


def _session_args(demo: DemoSessions, i: int, n: int) -> tuple[dict, str]:
    """The arguments and comment of the i-th of n sessions of a "weeks"/"month" test (its `DEMO` declaration): the
    constant ones, the drift (`ramp`), and the out-of-tolerance session (`outlier`)."""
    args = dict(demo.args)
    for name, step in demo.ramp.items():
        args[name] = step * (i if demo.ramp_last is None else max(0, i - (n - demo.ramp_last)))
    comment = ""
    if demo.outlier is not None:
        num, den, changed, text = demo.outlier
        if i == n * num // den:
            args.update(changed)
            comment = text
    return args, comment


def _dated(demo: DemoSessions, at: dt.datetime) -> dict:
    return {demo.date_arg: at.isoformat() if demo.date_arg == "when" else at.date().isoformat()}


def _at(day: dt.date, demo: DemoSessions) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(demo.time))


def sessions_of(key: str, demo: DemoSessions, start: dt.date, end: dt.date, seed: int) -> list[dict]:
    """The recipes of one test as its module declares them (`DEMO`, `qc.spec.DemoSessions`): "weeks" over
    [start, end] with its own `seed`; "month" over the last full month and the current one, "monthly" and
    "quarterly" on their first `weekday`, with the month's shared `seed`."""
    out = []
    if demo.span in ("weeks", "month"):
        days = list(_weekly(start if demo.span == "weeks" else _month_start(end, 1), end, demo.weekday))
        for i, d in enumerate(days):
            at = _at(d, demo)
            args, comment = _session_args(demo, i, len(days))
            noise = demo.seed if demo.seed is not None else seed + i if demo.span == "weeks" else seed + 10 * i + demo.seed_offset
            out.append(_recipe(key, at, demo.gen, comment, **_dated(demo, at), seed=noise, **args))
        return out
    for k, month in enumerate((_month_start(end, 1), _month_start(end))):
        if demo.span == "quarterly" and k > 0:
            break
        day = min(month + dt.timedelta(days=(demo.weekday - month.weekday()) % 7), end)  # the first weekday, or yesterday
        if day < month:
            continue  # the current month has not begun (the 1st): only the last full month
        at = _at(day, demo)
        extra, comment = demo.months[k] if demo.months else ({}, "")
        noise = demo.seed if demo.seed is not None else seed + 1000 * (k + 1) + demo.seed_offset
        out.append(_recipe(key, at, demo.gen, comment, **_dated(demo, at), seed=noise, **demo.args, **extra))
    return out


def image_plan(start: dt.date, end: dt.date, rng) -> list[dict]:
    """Every image/report session of the demo, in the order they are generated and stored, from the tests' own
    declarations (each analyser module's `DEMO`, in registry order; a test without one is not in the demo).

    The "weeks" tests cover the latest `DEMO_IMAGE_WEEKS` weeks, each with its own noise seed; the others share one
    seed for the month. Within a test the oldest session comes first when it sets the test's baseline (the later ones are
    judged against it); then the newest session of every test, then the others newest first, so that Home
    is complete early while the background build fills in the older history. The second-latest session of a "weeks"
    test with more than three is voided, as a physicist would after a wrong set-up."""
    start = max(start, end - dt.timedelta(weeks=DEMO_IMAGE_WEEKS))
    declared = demo_declarations()
    by_test: dict[str, list[dict]] = {}
    for key, demo in declared:
        if demo.span == "weeks":
            by_test[key] = sessions_of(key, demo, start, end, int(rng.integers(1 << 31)))
    month_seed = int(rng.integers(1 << 31))
    for key, demo in declared:
        if demo.span != "weeks":
            by_test[key] = sessions_of(key, demo, start, end, month_seed)
    weeks = {key for key, demo in declared if demo.span == "weeks"}
    keep = {key: demo.keep_latest for key, demo in declared}
    first, newest, rest = [], [], []
    for key, sessions in by_test.items():
        sessions.sort(key=lambda r: r["when"])
        for i, r in enumerate(sessions):
            r["keep_files"] = i >= len(sessions) - keep[key]
            r["baseline"] = i == 0 and key in weeks
            if len(sessions) > 3 and i == len(sessions) - 2 and key in weeks:
                r["void"] = "Mauvais positionnement du fantôme ; séance refaite."
            (first if r["baseline"] else newest if i == len(sessions) - 1 else rest).append(r)
    newest.sort(key=lambda r: r["when"], reverse=True)
    rest.sort(key=lambda r: r["when"], reverse=True)
    return first + newest + rest


def _plan_path(data_dir: Path) -> Path:
    return Path(data_dir) / PLAN_DIR / "plan.json"


def _progress_path(data_dir: Path) -> Path:
    return Path(data_dir) / PLAN_DIR / "progress.json"


def _write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: Path, default):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def demo_progress(data_dir: Path | str) -> tuple[int, int] | None:
    """(sessions stored, sessions planned) of the demo's image sessions, or None when there is no plan."""
    plan = _read_json(_plan_path(Path(data_dir)), None)
    if plan is None:
        return None
    return int(_read_json(_progress_path(Path(data_dir)), {}).get("done", 0)), len(plan)


def demo_latest_in(data_dir: Path | str) -> bool:
    """Whether every image test already has its newest demo session stored (Home is then complete: the plan
    stores them before the older history)."""
    plan = _read_json(_plan_path(Path(data_dir)), None)
    if plan is None:
        return True
    newest: dict[str, int] = {}
    for i, r in enumerate(plan):
        if r["test"] not in newest or r["when"] > plan[newest[r["test"]]]["when"]:
            newest[r["test"]] = i
    done = int(_read_json(_progress_path(Path(data_dir)), {}).get("done", 0))
    return done > max(newest.values(), default=-1)


def demo_complete(data_dir: Path | str) -> bool:
    p = demo_progress(data_dir)
    return p is None or p[0] >= p[1]


def _uid_key(recipe: dict) -> str:
    return json.dumps([recipe["test"], recipe["when"], recipe["gen"], recipe["args"]], sort_keys=True)


def make_inputs(recipe: dict) -> list[tuple[str, bytes]]:
    """The files of one recipe: the same bytes at every call (UIDs derived from the recipe), by the generator its
    test declares (`DEMO.make`); a recipe naming another generator than the test's (`DEMO.gen`) is refused."""
    import importlib

    from qc.synthetic import reproducible_uids

    demo = demo_sessions(recipe["test"])
    if demo is None or demo.gen != recipe["gen"]:
        raise ValueError(f"the demo recipe of {recipe['test']!r} names the generator {recipe['gen']!r}, "
                         f"which that test does not declare ({demo.gen if demo else 'no DEMO'})")
    module_name, _, function = demo.make.partition(":")
    with reproducible_uids(_uid_key(recipe)):
        return getattr(importlib.import_module(module_name), function)(**recipe["args"])


@contextlib.contextmanager
def _exclusive(data_dir: Path):
    """Hold `demo/complete.lock` (one builder at a time per data folder); yields False when another holds it."""
    path = Path(data_dir) / PLAN_DIR / "complete.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+b")
    try:
        try:
            if os.name == "nt":
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        fh.close()  # closing releases the lock


def complete_demo(data_dir: Path | str, store: Store | None = None, workers: int | None = None) -> int:
    """Generate, analyse and store the demo's planned image sessions not stored yet, in plan order.

    Resumable: an interrupted run (the app closed) goes on from the last stored session at the next call.
    Returns the number of sessions stored by this call (0 when another process is already at it)."""
    data_dir = Path(data_dir)
    plan = _read_json(_plan_path(data_dir), None)
    if not plan:
        return 0
    with _exclusive(data_dir) as mine:
        if not mine:
            return 0
        own = store is None
        store = store if store is not None else open_store(data_dir)
        try:
            return _run_plan(store, data_dir, plan, workers)
        finally:
            if own:
                store.close()


def _run_plan(store: Store, data_dir: Path, plan: list[dict], workers: int | None) -> int:
    import importlib
    import multiprocessing
    import sys
    from concurrent.futures import ProcessPoolExecutor

    from qc import pipeline
    from qc.errors import DuplicateUploadError

    progress = _read_json(_progress_path(data_dir), {"done": 0, "sessions": {}})
    todo = list(range(int(progress.get("done", 0)), len(plan)))
    if not todo:
        return 0
    machine = store.machine_by_name(DEMO_MACHINE)
    rng = np.random.default_rng(7 + len(todo))
    workers = workers or max(1, min(4, (os.cpu_count() or 1)))
    # fork where it exists (Linux): a spawned child re-runs the parent's __main__, which is app.py
    # when the demo is built from the app or under AppTest; on Windows (spawn) __main__ is
    # streamlit's or qc's guarded entry point.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() and os.name == "posix" and sys.platform != "darwin" else "spawn"
    stored = 0
    cpu0, wall0 = _cpu_s(), time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) as pool:
        made = pool.map(make_inputs, [plan[i] for i in todo], chunksize=1)
        for i in todo:
            recipe = plan[i]
            inputs = next(made)
            spec = get_test(recipe["test"], store)
            analysis = pipeline.analyse(store, spec, inputs, machine)
            try:
                sid = pipeline.store_analysis(store, analysis, operator=_operator(rng), comment=recipe["comment"], is_demo=True,
                                              keep_files=recipe["keep_files"])
            except DuplicateUploadError as exc:  # stored by a run interrupted before it wrote its progress
                sid = exc.session_id
            else:
                stored += 1
                module = importlib.import_module(spec.analyse.__module__)
                if recipe.get("baseline") and hasattr(module, "baseline_from_result"):
                    store.set_baseline(machine["id"], spec.key, module.baseline_from_result(analysis.result), sid, "démo",
                                       valid_from=str(_when(recipe["when"])))
                if recipe.get("void"):
                    store.void_session(sid, recipe["void"], "démo")
            progress["sessions"][str(sid)] = i
            progress["done"] = i + 1
            _write_json(_progress_path(data_dir), progress)
    # What this run cost (bench/bench_first_start.py reads it): CPU of this process and its workers, wall.
    progress["last_run"] = {"sessions": stored, "cpu_s": round(_cpu_s() - cpu0, 2), "wall_s": round(time.perf_counter() - wall0, 2)}
    _write_json(_progress_path(data_dir), progress)
    if stored:
        from qc.records.sessions import latest_acquisition

        last = latest_acquisition(store)
        demo_signatures(store, dt.date.fromisoformat(str(last)[:10]))
    return stored


DEMO_SIGNERS = ("Dr C. Lefèvre", "M. Bernard")


def demo_signatures(store: Store, end: dt.date, unsigned_days: int = 14) -> int:
    """Signatures on the demo's results (issue #27): every session acquired more than `unsigned_days` before the
    demo's last day is signed, the failing ones « Approuvé » with a comment, the others « Relu »; a few « Relu »
    later superseded by « Approuvé » (a correction is a new signature); the latest ones stay unsigned, so Home lists
    results waiting for a signature. The demo runs without authentication: the signatures are typed names, shown
    as not verified by a password, as they would be in that mode. One note on one measurement of a failing session.
    Returns the number of signatures stored."""
    from qc.records.sessions import failing_metrics
    from qc.records.signatures import add_leaf_comment, any_leaf_comment, sessions_unsigned_before, sign_session

    cutoff = (end - dt.timedelta(days=unsigned_days)).isoformat()
    rows = sessions_unsigned_before(store, cutoff)
    n = 0
    noted = any_leaf_comment(store)
    for i, r in enumerate(rows):
        signer = DEMO_SIGNERS[i % len(DEMO_SIGNERS)]
        if r["status"] in ("fail", "warning"):
            sign_session(store, r["id"], "approved", signer=signer, verified=False, comment="Écart vu ; action notée dans le cahier de la machine.")
            n += 1
            if not noted:
                metric = next(iter(failing_metrics(store, r["id"])), None)
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


def _cpu_s() -> float:
    """CPU time of this process and its waited-for children (the generating workers), in s."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class RegeneratedImagesDiffer(ValueError):
    """The images generated again from a session's recipe are not the ones stored (sha256)."""


def regenerable_sessions(data_dir: Path | str) -> set[int]:
    """The demo sessions whose images `regenerate_inputs` can make again (those generated from a recipe)."""
    return {int(k) for k in _read_json(_progress_path(Path(data_dir)), {}).get("sessions", {})}


def regenerate_inputs(store: Store, session_id: int) -> list[tuple[str, bytes]]:
    """The images of a demo session, generated again from its recipe and checked byte for byte (sha256)
    against the files stored with the session; raises ValueError when the session has no recipe or a file differs."""
    import hashlib

    from qc.records.sessions import session_file_hashes

    progress = _read_json(_progress_path(store.data_dir), {})
    index = progress.get("sessions", {}).get(str(session_id))
    plan = _read_json(_plan_path(store.data_dir), None)
    if index is None or plan is None:
        raise ValueError(f"session {session_id} is not a generated demo session")
    files = make_inputs(plan[index])
    stored = sorted(session_file_hashes(store, session_id))
    made = sorted(hashlib.sha256(data).hexdigest() for _, data in files)
    if made != stored:
        raise RegeneratedImagesDiffer(f"the regenerated images of session {session_id} differ from the stored ones")
    return files


def start_demo_completion(data_dir: Path | str) -> bool:
    """Start `python -m qc.demo complete` in the background when the demo's image sessions are not all in and
    no builder runs. Returns True when one was started."""
    import subprocess
    import sys

    data_dir = Path(data_dir)
    if demo_complete(data_dir):
        return False
    with _exclusive(data_dir) as free:
        if not free:
            return False
    log = open(data_dir / PLAN_DIR / "complete.log", "ab")
    kwargs: dict = {"stdout": log, "stderr": log, "stdin": subprocess.DEVNULL, "cwd": str(Path(__file__).resolve().parents[1])}
    if os.name == "nt":
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.BELOW_NORMAL_PRIORITY_CLASS
    else:
        kwargs["start_new_session"] = True
    subprocess.Popen([sys.executable, "-m", "qc.demo", "complete", str(data_dir)], **kwargs)
    log.close()
    return True


def main(argv: list[str] | None = None) -> int:
    """`python -m qc.demo complete <data folder>`: the background half of the app's first start (niced)."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "complete":
        print("usage: python -m qc.demo complete <data folder>", file=sys.stderr)
        return 2
    if hasattr(os, "nice"):
        os.nice(10)  # the pages the physicist is looking at come first
    complete_demo(Path(args[1]))
    return 0


if __name__ == "__main__":
    from qc.demo import main as _main  # the module's own functions (picklable by name for the workers)

    raise SystemExit(_main())
