"""Speed of the PIQT report import: parse + analyse one realistic report (~55 kB); the target is < 0.2 s.

Run: `.venv/bin/python bench/bench_piqt.py` from the repository root. Prints figures, asserts nothing.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qc.mr.piqt import analyse, parse_report  # noqa: E402
from qc.registry import AnalysisContext  # noqa: E402
from qc.synthetic.piqt import synthetic_report, weekly_reports  # noqa: E402


def _timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    cases = {
        "default (utf-8)": synthetic_report(seed=1, failing=("Nema_FWTM",)).html,
        "unknown section + wrapped values + criteria rows": synthetic_report(
            seed=2, unknown_section=True, wrap_values=True, criteria_layout="row").html,
        "utf-16 + decimal commas + colspans": synthetic_report(seed=3, encoding="utf-16", decimal_comma=True, colspan=True).html,
    }
    ctx = AnalysisContext(lang="fr")
    print(f"{'case':50s} {'size kB':>8s} {'values':>7s} {'parse ms (median/max)':>22s} {'analyse ms (median/max)':>24s}")
    for label, html in cases.items():
        parse_t = _timed(lambda: parse_report("PIQT.htm", html), 30)
        res = analyse([("PIQT.htm", html)], ctx)
        an_t = _timed(lambda: analyse([("PIQT.htm", html)], ctx), 30)
        print(f"{label:50s} {len(html) / 1000:8.1f} {len(res.items):7d} "
              f"{statistics.median(parse_t) * 1e3:10.1f} / {max(parse_t) * 1e3:6.1f}   "
              f"{statistics.median(an_t) * 1e3:10.1f} / {max(an_t) * 1e3:6.1f}")
    t0 = time.perf_counter()
    series = weekly_reports(n_weeks=52)
    gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    for name, html in series:
        analyse([(name, html)], ctx)
    print(f"52 weekly reports: generated in {gen:.2f} s, analysed in {time.perf_counter() - t0:.2f} s "
          f"({(time.perf_counter() - t0) / 52 * 1e3:.1f} ms each)")
    print("target: one realistic report parsed in < 200 ms")


if __name__ == "__main__":
    main()
