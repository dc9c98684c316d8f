"""Benchmark of the History page on a large database (query + trend charts + serialisation).

Builds, in a temporary QC_DATA_DIR, a database of about 100 000 metric rows: 3 machines, 5 years,
the logged tests (safety daily, helium weekly, couch / laser / quasar monthly) and the MVIC-Champ
field test (weekly, ~94 rows per session over 5 fields). Each row is a value with the limits of the
tolerance in force and its status, as `Store.save_session` stores them; the field rows copy one real
analysis of the demo images (names, items, nominals, limits, tolerance ids), with new values.
Sessions and metrics are inserted in bulk (`insert_all`, one `store.write()` transaction).

Then it times what pages/history.py does for one filter, repeated:
  names  : `metrics_frame(test, machine)` with no date, which the page runs to list stored metrics;
  query  : `metrics_frame(machine, test, metric?, date_from, date_to)`;
  charts : `trend_chart` per series (metric chosen, ≤ 6 series) or `small_multiples` (all metrics);
  to_dict: `chart.to_dict()` (Altair validation + data inlining);
  st_spec: Streamlit's own conversion (`_convert_altair_to_vega_lite_spec`: to_dict + Arrow data),
           what `st.altair_chart` really runs (skipped if streamlit is not importable);
  drift  : `drift_signal` on every series.
Target: query + charts + to_dict + drift < 1 s. Then the query plans, and the query time with
ANALYZE and with the candidate indexes, each on its own copy of the database.

    .venv/bin/python bench/bench_history.py [--rows 100000] [--repeat 7] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from qc.registry import TestSpec, get_test  # noqa: E402
from qc.records.storage import Store, open_store  # noqa: E402
from qc.tolerances import judge_value, worst  # noqa: E402

OPERATORS = ("AG", "MB", "CL", "JD", "SP")
# Typical value and spread of metrics that have no two-sided tolerance to centre on (domain.md §7–§9).
TYPICAL = {
    "helium_level_pct": (80.0, 4.0),
    "helium_decline_pct_per_week": (-0.2, 0.12),
    "couch_readout_1_cm": (17.5, 0.02),
    "couch_readout_2_cm": (21.55, 0.04),
    "gating_latency_ms": (62.0, 8.0),
    "quasar_norm_3d_mm": (0.7, 0.3),
    "penumbra_x1_mm": (4.26, 0.05),
    "penumbra_x2_mm": (4.26, 0.05),
    "penumbra_y1_mm": (4.26, 0.05),
    "penumbra_y2_mm": (4.26, 0.05),
}
WARN_COMMENTS = (
    "Refait après repositionnement du fantôme : conforme.",
    "Technicien Elekta prévenu ; à surveiller la semaine prochaine.",
    "Valeur vérifiée deux fois, physicien informé.",
)


# ------------------------------------------------------------------ synthetic rows


@dataclass(frozen=True)
class RowTemplate:
    """One metric row of a session as stored: what stays the same from session to session."""

    name: str
    item: str
    unit: str
    nominal: float | None
    bounds: tuple | None
    tolerance_id: int | None
    reference: str
    typical: float | None  # a value seen in a real analysis (used when there are no limits)


def templates_from_demo(store: Store, spec: TestSpec, machine: dict) -> tuple[list[RowTemplate], str]:
    """Rows (and the per-item JSON table) of one real analysis of the test's demo input."""
    from qc import pipeline
    from qc.demo_inputs import demo_inputs_for

    analysis = pipeline.analyse(store, spec, demo_inputs_for(spec.key)(), machine)
    rows = [
        RowTemplate(j.name, j.item, j.unit, j.nominal, tuple(j.bounds) if j.bounds else None, j.tolerance_id, j.reference,
                    None if j.value is None else float(j.value))
        for j in analysis.judged
    ]
    items = json.dumps(analysis.result.items, ensure_ascii=False, default=str)
    return rows, items


def templates_from_spec(store: Store, spec: TestSpec) -> list[RowTemplate]:
    """One session-level row per metric of the spec, with its default tolerance as stored."""
    out = []
    for m in spec.metrics:
        tol = store.tolerance_for(spec.key, m.name, None, dt.datetime.now())
        bounds = tol.bounds_for(tol.nominal) if tol is not None else None
        nominal = tol.nominal if tol is not None else None
        out.append(RowTemplate(m.name, "", m.unit, nominal, bounds, tol.id if tol else None, tol.reference if tol else "", None))
    return out


def synth_value(tpl: RowTemplate, rng: np.random.Generator) -> float:
    """A plausible value: centred in the tolerance band with ~5 % of results outside it."""
    if tpl.name in TYPICAL:
        mean, sd = TYPICAL[tpl.name]
        return round(float(rng.normal(mean, sd)), 3)
    b = tpl.bounds
    if b is not None and b[0] == 1.0 and b[1] == 1.0 and b[2] is None:  # pass/fail item (1 = conforme)
        return 0.0 if rng.random() < 0.01 else 1.0
    if tpl.name.startswith("n_") and tpl.unit == "":  # a count
        if b is not None:
            return float(rng.random() < 0.02)
        return float(tpl.typical or 0.0)
    if b is not None and b[1] is not None and b[2] is not None:
        half = (b[2] - b[1]) / 2
        return round(float(rng.normal((b[1] + b[2]) / 2, half / 2.2)), 4)
    if b is not None and b[2] is not None:  # at most
        return round(float(abs(rng.normal(0, b[2] / 2.5))), 4)
    if b is not None and b[1] is not None:  # at least
        return round(float(b[1] * (1.12 + rng.normal(0, 0.04))), 3)
    base = tpl.typical if tpl.typical is not None else 1.0
    return round(float(base + rng.normal(0, max(abs(base) * 0.01, 0.02))), 4)


def metric_rows(sid: int, templates: list[RowTemplate], rng: np.random.Generator) -> list[dict]:
    rows = []
    for tpl in templates:
        value = synth_value(tpl, rng)
        b = tpl.bounds
        rows.append({
            "session_id": sid, "name": tpl.name, "item": tpl.item, "value": value, "unit": tpl.unit, "nominal": tpl.nominal,
            "act_low": b[0] if b else None, "tol_low": b[1] if b else None, "tol_high": b[2] if b else None,
            "act_high": b[3] if b else None, "status": judge_value(value, b), "tolerance_id": tpl.tolerance_id,
            "reference": tpl.reference,
        })
    return rows


def session_row(sid: int, test: str, machine_id: int, when: dt.datetime, status: str, rng, items: str = "[]",
                voided: bool = False, version: str = "bench") -> dict:
    bad = status in ("warning", "fail")
    return {
        "id": sid, "test": test, "machine_id": machine_id, "acquired_at": when.isoformat(sep=" "),
        "stored_at": (when + dt.timedelta(minutes=int(rng.integers(2, 90)))).isoformat(sep=" "),
        "operator": str(rng.choice(OPERATORS)), "comment": str(rng.choice(WARN_COMMENTS)) if bad else "",
        "status": status, "analyser_version": version, "warnings": "[]", "params": "{}", "items": items,
        "cax_calibration_id": None, "voided": 1 if voided else 0,
        "void_reason": "Mauvais positionnement du fantôme ; séance refaite." if voided else None,
        "voided_by": "MB" if voided else None,
        "voided_at": (when + dt.timedelta(hours=3)).isoformat(sep=" ") if voided else None, "is_demo": 0,
    }


def days_of(start: dt.date, end: dt.date, frequency: str, weekday: int = 1, monthday: int = 5) -> list[dt.date]:
    out, d = [], start
    while d <= end:
        if (frequency == "daily" and d.weekday() < 5) or (frequency == "weekly" and d.weekday() == weekday) \
                or (frequency == "monthly" and d.day == monthday):
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def insert_bulk(store: Store, sessions: list[dict], metrics: list[dict]) -> None:
    """Sessions (explicit ids) and their metrics in one BEGIN IMMEDIATE transaction."""
    with store.write() as db:
        db["sessions"].insert_all(sessions, batch_size=1000)
        db["metrics"].insert_all(metrics, batch_size=1000)


# ------------------------------------------------------------------ the database

LOGGED = {"safety": (dt.time(7, 30), 0), "helium": (dt.time(8, 10), 0), "couch": (dt.time(18, 0), 5),
          "laser": (dt.time(18, 20), 5), "quasar": (dt.time(18, 40), 5)}


def build_history_db(store: Store, target_rows: int, start: dt.date, end: dt.date, n_machines: int = 3, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    machines = [store.add_machine(f"Unity {i + 1}", f"UNITY-{i + 1}", f"SN-{1000 + i}", "Elekta Unity") for i in range(n_machines)]
    field = get_test("field", store)
    field_tpl, field_items = templates_from_demo(store, field, store.machine(machines[0]))
    plan = []  # (when, test, machine_id, templates, items JSON)
    for mid in machines:
        for key, (at, mday) in LOGGED.items():
            spec = get_test(key, store)
            tpl = templates_from_spec(store, spec)
            for d in days_of(start, end, spec.frequency, weekday=0, monthday=mday):
                plan.append((dt.datetime.combine(d, at), key, mid, tpl, "[]"))
    logged_rows = sum(len(p[3]) for p in plan)
    # Field sessions: weekly on each machine, thinned evenly (missed weeks) so that the total is the target.
    field_days = [(dt.datetime.combine(d, dt.time(7, 45)), mid) for mid in machines for d in days_of(start, end, "weekly", weekday=1)]
    n_field = max(0, min(len(field_days), (target_rows - logged_rows) // len(field_tpl)))
    keep = np.unique(np.linspace(0, len(field_days) - 1, n_field).round().astype(int)) if n_field else []
    plan += [(field_days[i][0], "field", field_days[i][1], field_tpl, field_items) for i in keep]
    plan.sort(key=lambda p: (p[0], p[2], p[1]))
    sessions, metrics = [], []
    for sid, (when, key, mid, tpl, items) in enumerate(plan, start=1):
        when = when + dt.timedelta(minutes=int(rng.integers(0, 20)))
        rows = metric_rows(sid, tpl, rng)
        metrics += rows
        sessions.append(session_row(sid, key, mid, when, worst(r["status"] for r in rows), rng, items, voided=rng.random() < 0.004))
    t0 = time.perf_counter()
    insert_bulk(store, sessions, metrics)
    insert_s = time.perf_counter() - t0
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"machines": machines, "sessions": len(sessions), "metrics": len(metrics), "insert_s": insert_s,
            "field_sessions": int(len(keep)), "voided": sum(s["voided"] for s in sessions)}


# ------------------------------------------------------------------ what the History page does


def st_converter():
    try:
        from streamlit.elements.vega_charts import _convert_altair_to_vega_lite_spec
    except Exception:  # noqa: BLE001 - streamlit absent or moved: the to_dict figure still stands
        return None
    return _convert_altair_to_vega_lite_spec


class Phases:
    """Wall and CPU time (the process's, all threads) of consecutive phases, in seconds."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        w0, c0 = time.perf_counter(), time.process_time()
        yield
        self.wall[name] = time.perf_counter() - w0
        self.cpu[name] = time.process_time() - c0


def page_run(store: Store, spec: TestSpec, machine_id: int, metric: str | None, date_from: str, date_to: str, convert) -> dict:
    """One run of pages/history.py for a filter, timed phase by phase (seconds; "<phase> cpu" = CPU time)."""
    from qc.reporting.trends import drift_signal, series_label, small_multiples, trend_chart

    lang = "fr"
    ph = Phases()
    out: dict[str, float] = {}
    with ph("names"):
        store.metrics_frame(test=spec.key, machine_id=machine_id)["metric"].unique().tolist()
    with ph("query"):
        df = store.metrics_frame(machine_id=machine_id, test=spec.key, metric=metric, date_from=date_from, date_to=date_to)
    out["rows"] = len(df)
    with ph("charts"):
        trended = df[df["metric"].map(lambda n: spec.metric(n) is None or spec.metric(n).trend)]
        series = list(trended.groupby(["metric", "item"], sort=False))
        charts = []
        if metric is not None:
            for (name, item), g in series[:6]:
                title, unit = series_label(spec, name, item, lang)
                charts.append(trend_chart(g, title, unit, lang))
        elif series:
            chart = small_multiples(trended, spec, lang)
            if chart is not None:
                charts.append(chart)
    out["n_series"] = len(series)
    out["n_charted"] = min(len(series), 6) if metric is not None else min(len(series), 12)
    with ph("to_dict"):
        for c in charts:
            c.to_dict()
    with ph("drift"):
        drifts = [drift_signal(g) for _, g in (series[:6] if metric is not None else series)]
    out["drifting"] = sum(1 for d in drifts if d is not None and d.reaches_limit)
    ph.wall["st_spec"] = ph.cpu["st_spec"] = float("nan")
    if convert is not None:
        with ph("st_spec"):
            for c in charts:
                convert(c)
    for clock, suffix in ((ph.wall, ""), (ph.cpu, " cpu")):
        for k, v in clock.items():
            out[k + suffix] = v
        out["target" + suffix] = clock["query"] + clock["charts"] + clock["to_dict"] + clock["drift"]
        serialise = clock["st_spec"] if convert is not None else clock["to_dict"]
        out["page" + suffix] = clock["names"] + clock["query"] + clock["charts"] + serialise + clock["drift"]
    return out


def scenarios(end: dt.date) -> list[tuple[str, str, str | None, str, str]]:
    def back(days: int) -> str:
        return (end - dt.timedelta(days=days)).isoformat()

    e = end.isoformat()
    return [
        ("field, 1 metric, 180 d", "field", "field_size_x_mm", back(180), e),
        ("field, 1 metric, 1 y", "field", "field_size_x_mm", back(365), e),
        ("field, 1 metric, 5 y", "field", "field_size_x_mm", back(5 * 366), e),
        ("field, all metrics, 180 d", "field", None, back(180), e),
        ("field, all metrics, 1 y", "field", None, back(365), e),
        ("field, all metrics, 5 y", "field", None, back(5 * 366), e),
        ("helium, 1 metric, 5 y", "helium", "helium_level_pct", back(5 * 366), e),
        ("quasar, all metrics, 5 y", "quasar", None, back(5 * 366), e),
        ("safety, all metrics, 1 y", "safety", None, back(365), e),
    ]


def med_max(values: list[float]) -> str:
    """Median/max in ms, right-aligned on 14 characters."""
    return f"{statistics.median(values) * 1000:.0f}/{max(values) * 1000:.0f}".rjust(14)


def time_page(store: Store, end: dt.date, machine_id: int, repeat: int) -> list[tuple[str, dict]]:
    convert = st_converter()
    results = []
    page_run(store, get_test("field", store), machine_id, None, (end - dt.timedelta(days=30)).isoformat(), end.isoformat(), convert)  # warm-up
    for label, key, metric, d0, d1 in scenarios(end):
        spec = get_test(key, store)
        runs = [page_run(store, spec, machine_id, metric, d0, d1, convert) for _ in range(repeat)]
        results.append((label, {k: [r[k] for r in runs] for k in runs[0]}))
    return results


def print_page_table(results: list[tuple[str, dict]], repeat: int) -> None:
    print(f"\nHistory page, machine 'Unity 1', {repeat} runs each: median/max in ms; series = charted/found")
    cols = ("names", "query", "charts", "to_dict", "drift", "target", "target cpu", "st_spec", "page")
    head = f"{'filter':26s} {'rows':>6s} {'series':>7s} " + " ".join(f"{c:>14s}" for c in cols)
    print(head)
    print("-" * len(head))
    for label, r in results:
        cells = " ".join(med_max(r[c]) if not any(np.isnan(r[c])) else f"{'—':>14s}" for c in cols)
        print(f"{label:26s} {r['rows'][0]:6d} {r['n_charted'][0]:3d}/{r['n_series'][0]:<3d} {cells}")
    print("target = query + charts + to_dict + drift (goal < 1000 ms); names = the page's extra metrics_frame"
          " with no date (to list stored metric names);\nst_spec = what st.altair_chart runs instead of to_dict;"
          " page = names + query + charts + st_spec + drift (what the page itself spends before Streamlit sends it);\n"
          "target cpu = target in CPU time of the process (less sensitive than wall time to other jobs on the machine).")


# ------------------------------------------------------------------ query plans and indexes

QUERY = (
    "select x.session_id, s.test, m.name as machine, s.acquired_at, s.operator, s.comment, s.voided, "
    "x.name as metric, x.item, x.value, x.unit, x.nominal, x.act_low, x.tol_low, x.tol_high, x.act_high, "
    "x.status, x.reference from metrics x join sessions s on s.id = x.session_id "
    "join machines m on m.id = s.machine_id{where} order by s.acquired_at, x.session_id, x.id"
)

VARIANTS = {
    "as is (m001 indexes)": [],
    "+ ANALYZE": ["ANALYZE"],
    "+ sessions(test, machine_id, acquired_at)": ["CREATE INDEX bench_s_tma ON sessions(test, machine_id, acquired_at)"],
    "+ metrics(session_id, name)": ["CREATE INDEX bench_m_sn ON metrics(session_id, name)"],
    "+ both indexes": ["CREATE INDEX bench_s_tma ON sessions(test, machine_id, acquired_at)",
                       "CREATE INDEX bench_m_sn ON metrics(session_id, name)"],
    "+ both indexes + ANALYZE": ["CREATE INDEX bench_s_tma ON sessions(test, machine_id, acquired_at)",
                                 "CREATE INDEX bench_m_sn ON metrics(session_id, name)", "ANALYZE"],
}


def plan_of(store: Store, machine_id: int, test: str, metric: str | None, d0: str | None, d1: str | None) -> list[str]:
    where, params = store._filters(machine_id, test, d0, d1, False, None, "s")
    if metric:
        where += " and x.name = ?"
        params.append(metric)
    return [r[3] for r in store.db.execute("EXPLAIN QUERY PLAN " + QUERY.format(where=where), params).fetchall()]


def query_cases(end: dt.date) -> list[tuple[str, str, str | None, str | None, str | None]]:
    e = end.isoformat()
    d180 = (end - dt.timedelta(days=180)).isoformat()
    return [
        ("field 1 metric 180 d", "field", "field_size_x_mm", d180, e),
        ("field 1 metric 5 y", "field", "field_size_x_mm", "2000-01-01", e),
        ("field all 180 d", "field", None, d180, e),
        ("field all, no date (names)", "field", None, None, None),
        ("helium 1 metric 5 y", "helium", "helium_level_pct", "2000-01-01", e),
    ]


def index_study(db_file: Path, end: dt.date, machine_id: int, repeat: int, workdir: Path) -> None:
    cases = query_cases(end)
    print(f"\nmetrics_frame alone (ms, median of {repeat}) on a copy of the database per variant")
    head = f"{'variant':44s} " + " ".join(f"{c[0]:>26s}" for c in cases)
    print(head)
    print("-" * len(head))
    plans = {}
    for name, sqls in VARIANTS.items():
        vdir = workdir / f"variant{len(plans)}"
        vdir.mkdir()
        shutil.copy(db_file, vdir / db_file.name)
        store = Store(vdir)
        for sql in sqls:
            store.db.execute(sql)
        store.db.conn.commit()
        cells, plans[name] = [], {}
        for label, test, metric, d0, d1 in cases:
            store.metrics_frame(machine_id=machine_id, test=test, metric=metric, date_from=d0, date_to=d1)  # warm
            ts = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                store.metrics_frame(machine_id=machine_id, test=test, metric=metric, date_from=d0, date_to=d1)
                ts.append(time.perf_counter() - t0)
            cells.append(f"{statistics.median(ts) * 1000:26.1f}")
            plans[name][label] = plan_of(store, machine_id, test, metric, d0, d1)
        print(f"{name:44s} " + " ".join(cells))
        store.close()
        shutil.rmtree(vdir)
    print("\nQuery plans (EXPLAIN QUERY PLAN):")
    for name in ("as is (m001 indexes)", "+ ANALYZE", "+ both indexes"):
        print(f"  {name}")
        for label, steps in plans[name].items():
            print(f"    {label:28s} " + " | ".join(steps))


def sql_split(store: Store, end: dt.date, machine_id: int, repeat: int) -> None:
    """SQLite time vs pandas (read_sql_query + to_datetime) for the biggest query of the page."""
    import pandas as pd

    where, params = store._filters(machine_id, "field", None, None, False, None, "s")
    sql = QUERY.format(where=where)
    ts_sql, ts_pd = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        rows = store.db.execute(sql, params).fetchall()
        ts_sql.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        df = pd.read_sql_query(sql, store.db.conn, params=params)
        df["acquired_at"] = pd.to_datetime(df["acquired_at"])
        ts_pd.append(time.perf_counter() - t0)
    distinct = "select distinct x.name from metrics x join sessions s on s.id = x.session_id" + where
    ts_d = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        store.db.execute(distinct, params).fetchall()
        ts_d.append(time.perf_counter() - t0)
    print(f"\nThe page's metric-name query (field, one machine, all dates, {len(rows)} rows): "
          f"sqlite fetchall {statistics.median(ts_sql) * 1000:.0f} ms, pandas read_sql_query + to_datetime "
          f"{statistics.median(ts_pd) * 1000:.0f} ms; 'select distinct x.name' instead: {statistics.median(ts_d) * 1000:.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000, help="metric rows to store (default 100000)")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--keep", help="build the database in this folder and keep it")
    args = ap.parse_args()
    end = dt.date(2025, 12, 31)
    start = dt.date(2021, 1, 1)
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="qc_bench_history_"))
    tmp.mkdir(parents=True, exist_ok=True)
    os.environ["QC_DATA_DIR"] = str(tmp / "data")
    try:
        t0 = time.perf_counter()
        store = open_store(tmp / "data")
        info = build_history_db(store, args.rows, start, end)
        build_s = time.perf_counter() - t0
        size_mb = store.path.stat().st_size / 1e6
        counts = store.counts()
        print(f"Database: {counts['metrics']} metric rows, {counts['sessions']} sessions ({info['field_sessions']} field, "
              f"{info['voided']} voided), 3 machines, {start} → {end}; {size_mb:.1f} MB")
        print(f"Built in {build_s:.1f} s (bulk insert {info['insert_s']:.1f} s; the rest is one demo analysis for the field rows)")
        print(f"Load average before timing: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
        mid = info["machines"][0]
        results = time_page(store, end, mid, args.repeat)
        print_page_table(results, args.repeat)
        sql_split(store, end, mid, args.repeat)
        store.close()
        index_study(tmp / "data" / "qc.sqlite", end, mid, args.repeat, tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
