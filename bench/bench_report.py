"""Benchmark of the monthly PDF report (`qc.reporting.report.monthly_report_pdf`) on a busy month.

Builds, in a temporary QC_DATA_DIR, one machine's month with 10 tests and 300 sessions: the logged
tests (safety, helium, couch, laser, quasar, beam quality), the MVIC-Champ field test and the PIQT
report (many items per session: rows copied from one real analysis of their demo inputs, with new
values), slits (idem) and leaf positions (one row per metric). Values are judged against the limits
as stored, so some are warnings / fails; those sessions carry a comment. Three sessions are voided
with a reason, the month is signed, and two sessions are stored after the signature.
Inserted in bulk like bench_history (`insert_all` in one `store.write()` transaction).

Then it times `monthly_report_pdf(store, machine_id, "YYYY-MM")`: the first call of the process
(cold: includes vl-convert's start-up) and warm calls, with where the time goes (chart PNGs via
vl-convert, Altair chart building, fpdf tables, database reads), the page count and the size.
Target: < 5 s. `--profile` adds the cProfile top functions of one warm call.

    .venv/bin/python bench/bench_report.py [--sessions 300] [--repeat 3] [--profile] [--out report.pdf]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import os
import pstats
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from bench_history import insert_bulk, metric_rows, session_row, templates_from_demo, templates_from_spec  # noqa: E402
from qc.registry import get_test  # noqa: E402
from qc.records.storage import Store, now_iso, open_store  # noqa: E402
from qc.tolerances import worst  # noqa: E402

MONTH = "2025-03"
# Sessions per test in the month (sums to 300); the image / report tests use a real analysis as template.
SHARE = {"safety": 60, "helium": 30, "field": 30, "piqt": 30, "slits": 30, "leaves": 30,
         "couch": 25, "laser": 25, "quasar": 20, "beam_quality": 20}
FROM_DEMO = ("field", "piqt", "slits")


def build_month_db(store: Store, month: str, n_sessions: int, seed: int = 2) -> dict:
    rng = np.random.default_rng(seed)
    mid = store.add_machine("Unity 1", "UNITY-1", "SN-1000", "Elekta Unity")
    machine = store.machine(mid)
    year, mon = (int(x) for x in month.split("-"))
    first = dt.datetime(year, mon, 1, 7, 0)
    days = (dt.date(year + mon // 12, mon % 12 + 1, 1) - first.date()).days
    scale = n_sessions / sum(SHARE.values())
    counts = {k: max(1, round(v * scale)) for k, v in SHARE.items()}
    plan = []
    for key, n in counts.items():
        spec = get_test(key, store)
        if key in FROM_DEMO:
            tpl, items = templates_from_demo(store, spec, machine)
        else:
            tpl, items = templates_from_spec(store, spec), "[]"
        # Spread over the month's working hours (several sessions a day: a stress case, not a schedule).
        offsets = np.sort(rng.uniform(0, days * 24 * 60, n))
        for o in offsets:
            when = first + dt.timedelta(minutes=float(o))
            plan.append((when.replace(microsecond=0, second=0), key, tpl, items))
    plan.sort(key=lambda p: p[0])
    voided_idx = set(rng.choice(len(plan), 3, replace=False).tolist())
    sessions, metrics = [], []
    for sid, (when, key, tpl, items) in enumerate(plan, start=1):
        rows = metric_rows(sid, tpl, rng)
        metrics += rows
        sessions.append(session_row(sid, key, mid, when, worst(r["status"] for r in rows), rng, items, voided=(sid - 1) in voided_idx))
    insert_bulk(store, sessions, metrics)
    store.sign_month(mid, month, "MB", "Mois relu.")
    # Two sessions stored after the signature: the report lists them in red.
    late = [s["id"] for s in sessions[-2:]]
    with store.write() as db:
        for sid in late:
            db["sessions"].update(sid, {"stored_at": (dt.datetime.now() + dt.timedelta(minutes=5)).replace(microsecond=0).isoformat(sep=" ")})
    status = Counter(s["status"] for s in sessions)
    mstatus = Counter(m["status"] for m in metrics)
    return {"machine_id": mid, "sessions": len(sessions), "metrics": len(metrics), "per_test": counts,
            "status": dict(status), "metric_status": dict(mstatus), "voided": len(voided_idx), "now": now_iso()}


class Phases:
    """Accumulated time of a few functions the report calls, by patching them for the run."""

    def __init__(self) -> None:
        self.t: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.n: dict[str, int] = defaultdict(int)
        self._undo: list = []

    def wrap(self, owner, attr: str, label: str) -> None:
        original = getattr(owner, attr)

        def timed(*a, **k):
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                return original(*a, **k)
            finally:
                self.t[label] += time.perf_counter() - t0
                self.cpu[label] += time.process_time() - c0
                self.n[label] += 1

        setattr(owner, attr, timed)
        self._undo.append((owner, attr, original))

    def __enter__(self) -> "Phases":
        import qc.reporting.report as report
        import qc.reporting.trends as trends
        from qc.records.storage import Store as S

        import vl_convert

        self.wrap(trends, "chart_png", "chart_png")
        self.wrap(vl_convert, "vegalite_to_png", "  of which vl-convert PNG")
        self.wrap(trends, "trend_chart", "trend_chart (Altair)")
        self.wrap(report.QCPdf, "table", "pdf tables (fpdf2)")
        self.wrap(report.QCPdf, "image", "pdf images (fpdf2)")
        self.wrap(report.QCPdf, "output", "pdf output (fpdf2)")
        self.wrap(report, "session_rows", "session_rows (pandas)")
        self.wrap(S, "metrics_frame", "metrics_frame (SQL)")
        self.wrap(S, "sessions_frame", "sessions_frame (SQL)")
        return self

    def __exit__(self, *exc) -> None:
        for owner, attr, original in reversed(self._undo):
            setattr(owner, attr, original)


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def run_report(store: Store, machine_id: int, month: str) -> tuple[float, float, bytes, Phases]:
    """(wall s, CPU s of the process, PDF, phases) of one call."""
    from qc.reporting.report import monthly_report_pdf

    with Phases() as ph:
        t0, c0 = time.perf_counter(), time.process_time()
        pdf = monthly_report_pdf(store, machine_id, month, lang="fr", generated_by="bench")
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return elapsed, cpu, pdf, ph


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3, help="warm calls after the cold one")
    ap.add_argument("--profile", action="store_true", help="cProfile one more warm call")
    ap.add_argument("--out", help="write the PDF here")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="qc_bench_report_"))
    os.environ["QC_DATA_DIR"] = str(tmp)
    try:
        t0 = time.perf_counter()
        store = open_store(tmp)
        info = build_month_db(store, MONTH, args.sessions)
        print(f"Month {MONTH}, one machine: {info['sessions']} sessions ({info['voided']} voided), {info['metrics']} metric rows, "
              f"built in {time.perf_counter() - t0:.1f} s")
        print("  sessions per test: " + ", ".join(f"{k} {v}" for k, v in info["per_test"].items()))
        print("  session status: " + ", ".join(f"{k} {v}" for k, v in sorted(info["status"].items())) +
              "; metric rows: " + ", ".join(f"{k} {v}" for k, v in sorted(info["metric_status"].items())))

        print(f"  load average before timing: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
        runs = []
        for i in range(1 + args.repeat):
            runs.append(run_report(store, info["machine_id"], MONTH))
        cold, cold_cpu, pdf, ph_cold = runs[0]
        warm = [r[0] for r in runs[1:]]
        warm_cpu = [r[1] for r in runs[1:]]
        last_wall, _, last_pdf, ph_warm = runs[-1]
        if args.out:
            Path(args.out).write_bytes(pdf)

        print(f"\nmonthly_report_pdf(store, machine_id, {MONTH!r})")
        print(f"{'call':10s} {'wall s':>7s} {'cpu s':>7s} {'pages':>6s} {'size kB':>8s}")
        print(f"{'cold':10s} {cold:7.2f} {cold_cpu:7.2f} {page_count(pdf):6d} {len(pdf) / 1024:8.0f}")
        if warm:
            print(f"{'warm med':10s} {statistics.median(warm):7.2f} {statistics.median(warm_cpu):7.2f} "
                  f"{page_count(last_pdf):6d} {len(last_pdf) / 1024:8.0f}")
            print(f"{'warm max':10s} {max(warm):7.2f} {max(warm_cpu):7.2f}")
        print("target < 5 s; cpu = CPU time of the process, all threads (vl-convert renders in its own threads)")

        print("\nWhere the time goes (s; chart_png = chart.to_json() + vl-convert PNG)")
        print(f"{'phase':28s} {'calls':>5s} {'cold':>7s} {'cpu':>7s} {'warm':>7s} {'cpu':>7s}")
        order = ("sessions_frame (SQL)", "metrics_frame (SQL)", "trend_chart (Altair)", "chart_png", "  of which vl-convert PNG",
                 "pdf images (fpdf2)", "pdf tables (fpdf2)", "session_rows (pandas)", "pdf output (fpdf2)")
        for label in order:
            print(f"{label:28s} {ph_warm.n[label]:5d} {ph_cold.t[label]:7.2f} {ph_cold.cpu[label]:7.2f} "
                  f"{ph_warm.t[label]:7.2f} {ph_warm.cpu[label]:7.2f}")
        nested = ("  of which vl-convert PNG",)

        def rest(ph: Phases, wall: float, cpu: float) -> str:
            return (f"{wall - sum(v for k, v in ph.t.items() if k not in nested):7.2f} "
                    f"{cpu - sum(v for k, v in ph.cpu.items() if k not in nested):7.2f}")

        print(f"{'other (fpdf text, pandas)':28s} {'':5s} {rest(ph_cold, cold, cold_cpu)} {rest(ph_warm, last_wall, runs[-1][1])}")

        if args.profile:
            from qc.reporting.report import monthly_report_pdf

            pr = cProfile.Profile()
            pr.enable()
            monthly_report_pdf(store, info["machine_id"], MONTH, lang="fr", generated_by="bench")
            pr.disable()
            s = io.StringIO()
            pstats.Stats(pr, stream=s).sort_stats("cumulative").print_stats(30)
            print(s.getvalue())
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
