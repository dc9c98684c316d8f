"""Benchmark of the monthly PDF report (`qc.reporting.report.monthly_report_pdf`) on a busy month.

Builds, in a temporary QC_DATA_DIR, one machine's month with 10 tests and 300 sessions: the logged
tests (safety, helium, couch, laser, quasar, beam quality), the MVIC-Champ field test and the PIQT
report (many items per session: rows copied from one real analysis of their demo inputs, with new
values), slits (idem) and leaf positions (one row per metric). Values are judged against the limits
as stored, so some are warnings / fails; those sessions carry a comment. Three sessions are voided
with a reason, the month is signed, and two sessions are stored after the signature.
Inserted in bulk like bench_history (`insert_all` in one `store.write()` transaction).

Then it times what a user waits for, CPU and wall, with the load average:
- cold: `python -m qc report` as a whole new process (imports included), `--cold` times (median), each on a
  fresh copy of the database;
- warm: `monthly_report_pdf(store, machine_id, "YYYY-MM")` called again in one process (the server, whose
  modules are loaded: the click on « Générer le PDF »), the first call of the process and `--repeat` more,
  with where the time goes (database reads, the control-chart table, the charts drawn by fpdf2, tables),
  the page count and the size.
Target: < 5 s of CPU for both. `--profile` adds the cProfile top functions of one warm call.
`--data DIR --machine NAME --month YYYY-MM` measures an existing database instead (copied first), e.g. the
demo's (`python -m qc demo` into a QC_DATA_DIR, machine « Unity 1 (démo) », last month).

    .venv/bin/python bench/bench_report.py [--sessions 300] [--repeat 5] [--cold 5] [--profile] [--out report.pdf]
    .venv/bin/python bench/bench_report.py --data /tmp/demo --machine "Unity 1 (démo)" --month 2026-11
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import os
import pstats
import re
import resource
import shutil
import statistics
import subprocess
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
        self.outer_t = self.outer_cpu = 0.0  # time in phases not nested in another (month_states reads metrics_frame)
        self._depth = 0
        self._undo: list = []

    def wrap(self, owner, attr: str, label: str) -> None:
        original = getattr(owner, attr)

        def timed(*a, **k):
            t0, c0 = time.perf_counter(), time.process_time()
            self._depth += 1
            try:
                return original(*a, **k)
            finally:
                self._depth -= 1
                dt_, dc = time.perf_counter() - t0, time.process_time() - c0
                self.t[label] += dt_
                self.cpu[label] += dc
                self.n[label] += 1
                if self._depth == 0:
                    self.outer_t += dt_
                    self.outer_cpu += dc

        setattr(owner, attr, timed)
        self._undo.append((owner, attr, original))

    def __enter__(self) -> "Phases":
        import qc.reporting.pdf_chart as pdf_chart
        import qc.reporting.report as report
        import qc.reporting.spc as spc
        from qc.records.storage import Store as S

        self.wrap(spc, "month_states", "control-chart table (spc)")
        self.wrap(pdf_chart, "draw_trend_chart", "charts (fpdf vectors)")
        self.wrap(report.QCPdf, "table", "pdf tables (fpdf2)")
        self.wrap(report.QCPdf, "para", "pdf paragraphs (fpdf2)")
        self.wrap(report.QCPdf, "output", "pdf output (fpdf2)")
        self.wrap(report, "session_rows", "session_rows (pandas)")
        self.wrap(report, "charted_series", "charted_series (pandas)")
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


def cold_process(data: Path, machine: str, month: str, n: int) -> tuple[list[float], list[float], bytes]:
    """CPU (user + system, from the OS) and wall of `python -m qc report` as a new process, `n` times, each on a
    fresh copy of `data` (nothing cached from a previous run)."""
    cpu, wall, pdf = [], [], b""
    for _ in range(n):
        run = Path(tempfile.mkdtemp(prefix="qc_bench_report_cold_"))
        try:
            shutil.copytree(data, run, dirs_exist_ok=True, ignore=shutil.ignore_patterns("cache"))
            out = run / "report.pdf"
            env = {**os.environ, "QC_DATA_DIR": str(run), "QC_NO_DEMO": "1"}
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "qc", "report", "--machine", machine, "--month", month, "-o", str(out)],
                           cwd=REPO, env=env, check=True, capture_output=True)
            wall.append(time.perf_counter() - t0)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            pdf = out.read_bytes()
        finally:
            shutil.rmtree(run, ignore_errors=True)
    return cpu, wall, pdf


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=5, help="warm calls after the first one of the process")
    ap.add_argument("--cold", type=int, default=5, help="whole `python -m qc report` processes")
    ap.add_argument("--data", help="an existing data folder (copied) instead of the built month")
    ap.add_argument("--machine", help="with --data: the machine's name")
    ap.add_argument("--month", default=MONTH, help="with --data: YYYY-MM")
    ap.add_argument("--profile", action="store_true", help="cProfile one more warm call")
    ap.add_argument("--out", help="write the PDF here")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="qc_bench_report_"))
    os.environ["QC_DATA_DIR"] = str(tmp)
    try:
        t0 = time.perf_counter()
        if args.data:
            shutil.copytree(args.data, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns("cache"))
            store = open_store(tmp)
            machine_id, machine_name, month = store.resolve_machine(args.machine)["id"], args.machine, args.month
            print(f"{args.data}: machine {machine_name}, month {month}")
        else:
            store = open_store(tmp)
            info = build_month_db(store, MONTH, args.sessions)
            machine_id, machine_name, month = info["machine_id"], store.machine(info["machine_id"])["name"], MONTH
            print(f"Month {MONTH}, one machine: {info['sessions']} sessions ({info['voided']} voided), {info['metrics']} metric rows, "
                  f"built in {time.perf_counter() - t0:.1f} s")
            print("  sessions per test: " + ", ".join(f"{k} {v}" for k, v in info["per_test"].items()))
            print("  session status: " + ", ".join(f"{k} {v}" for k, v in sorted(info["status"].items())) +
                  "; metric rows: " + ", ".join(f"{k} {v}" for k, v in sorted(info["metric_status"].items())))
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

        print(f"\ncold: `python -m qc report` as a new process, {args.cold} times (load before: {load()})")
        cold_cpu, cold_wall, cold_pdf = cold_process(tmp, machine_name, month, args.cold) if args.cold else ([], [], b"")
        if cold_cpu:
            print(f"{'process':10s} {'wall s':>7s} {'cpu s':>7s} {'pages':>6s}")
            print(f"{'median':10s} {statistics.median(cold_wall):7.2f} {statistics.median(cold_cpu):7.2f} {page_count(cold_pdf):6d}")
            print(f"{'min-max':10s} {min(cold_wall):.2f}-{max(cold_wall):.2f} {min(cold_cpu):.2f}-{max(cold_cpu):.2f}   (load after: {load()})")

        print(f"\nwarm: monthly_report_pdf(store, machine_id, {month!r}) in this process (the server's click), load before: {load()}")
        runs = []
        for i in range(1 + args.repeat):
            runs.append(run_report(store, machine_id, month))
        first, first_cpu, pdf, ph_first = runs[0]
        warm = [r[0] for r in runs[1:]]
        warm_cpu = [r[1] for r in runs[1:]]
        last_wall, _, last_pdf, ph_warm = runs[-1]
        if args.out:
            Path(args.out).write_bytes(pdf)
        print(f"{'call':10s} {'wall s':>7s} {'cpu s':>7s} {'pages':>6s} {'size kB':>8s}")
        print(f"{'first':10s} {first:7.2f} {first_cpu:7.2f} {page_count(pdf):6d} {len(pdf) / 1024:8.0f}")
        if warm:
            print(f"{'warm med':10s} {statistics.median(warm):7.2f} {statistics.median(warm_cpu):7.2f} "
                  f"{page_count(last_pdf):6d} {len(last_pdf) / 1024:8.0f}")
            print(f"{'warm max':10s} {max(warm):7.2f} {max(warm_cpu):7.2f}")
        print(f"target < 5 s of CPU (load after: {load()})")

        print("\nWhere the time goes (s; metrics_frame includes the control-chart table's read of the history)")
        print(f"{'phase':28s} {'calls':>5s} {'first':>7s} {'cpu':>7s} {'warm':>7s} {'cpu':>7s}")
        for label in ph_warm.n:
            print(f"{label:28s} {ph_warm.n[label]:5d} {ph_first.t[label]:7.2f} {ph_first.cpu[label]:7.2f} "
                  f"{ph_warm.t[label]:7.2f} {ph_warm.cpu[label]:7.2f}")

        def rest(ph: Phases, wall: float, cpu: float) -> str:
            return f"{wall - ph.outer_t:7.2f} {cpu - ph.outer_cpu:7.2f}"

        print(f"{'other (fpdf text, pandas)':28s} {'':5s} {rest(ph_first, first, first_cpu)} {rest(ph_warm, last_wall, runs[-1][1])}")

        if args.profile:
            from qc.reporting.report import monthly_report_pdf

            pr = cProfile.Profile()
            pr.enable()
            monthly_report_pdf(store, machine_id, month, lang="fr", generated_by="bench")
            pr.disable()
            s = io.StringIO()
            pstats.Stats(pr, stream=s).sort_stats("cumulative").print_stats(30)
            print(s.getvalue())
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
