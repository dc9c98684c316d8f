"""Control charts (qc.reporting.spc): each run rule on a known series, the CUSUM and step detector on synthetic
steps, the stored baseline and dismissals (m009), the CLI on the demo database and the monthly report's table."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from conftest import REPO, copy_demo
from qc.reporting import spc

DATES = pd.date_range("2026-01-05", periods=60, freq="B")


def _baseline_then(tail: list[float], seed: int = 3) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """20 baseline results whose mean is 0 and moving-range sigma 1 exactly, then `tail` (in sigma units)."""
    base = np.array([0.5, -0.5] * 10)  # mean 0, every moving range 1 -> sigma = 1 / 1.128
    base = base * 1.128  # sigma exactly 1
    x = np.r_[base, tail]
    return DATES[: len(x)], x


def _rules(tail: list[float]) -> dict[str, list[spc.Signal]]:
    dates, x = _baseline_then(tail)
    res = spc.analyse_series(dates, x)
    assert res.limits is not None and res.limits.sigma == pytest.approx(1.0) and res.limits.centre == pytest.approx(0.0)
    out: dict[str, list[spc.Signal]] = {}
    for s in res.signals:
        if s.index >= 20:
            out.setdefault(s.rule, []).append(s)
    return out


def test_limits_are_mean_and_moving_range_over_d2():
    lim = spc.imr_limits([1.0, 3.0, 2.0, 4.0])
    mr_bar = (2 + 1 + 2) / 3
    assert lim.centre == pytest.approx(2.5)
    assert lim.sigma == pytest.approx(mr_bar / 1.128)
    assert lim.ucl == pytest.approx(2.5 + 3 * mr_bar / 1.128) and lim.mr_ucl == pytest.approx(3.267 * mr_bar)
    assert spc.imr_limits([2.0, 2.0, 2.0]) is None


def test_rule_one_beyond_3_sigma():
    fired = _rules([0.3, -0.2, 3.4, 0.1])
    assert [(s.index, s.side) for s in fired["beyond_3s"]] == [(22, 1)]
    assert "beyond_3s" not in _rules([0.3, -0.2, 2.9, 0.1])


def test_rule_8_in_a_row_on_one_side():
    fired = _rules([-0.4, 0.3, 0.2, 0.6, 0.1, 0.4, 0.5, 0.2, 0.3, -0.1])
    assert [(s.index, s.side, s.count) for s in fired["run_8"]] == [(28, 1, 1)]
    assert "run_8" not in _rules([-0.4, 0.3, 0.2, 0.6, 0.1, 0.4, 0.5, 0.2, -0.3])  # 7 only


def test_rule_6_rising_or_falling():
    fired = _rules([0.0, -1.0, -0.6, -0.2, 0.1, 0.5, 0.9, 0.2])
    assert [(s.index, s.side) for s in fired["trend_6"]] == [(26, 1)]
    falling = _rules([1.0, 0.7, 0.3, 0.0, -0.4, -0.8, 0.5])
    assert [(s.index, s.side) for s in falling["trend_6"]] == [(25, -1)]
    assert "trend_6" not in _rules([0.0, -1.0, -0.6, -0.2, 0.1, 0.5, 0.2])  # 5 rising only


def test_rule_2_of_3_beyond_2_sigma_same_side():
    fired = _rules([0.1, 2.3, 0.4, 2.5, 0.0])
    assert [(s.index, s.side) for s in fired["two_of_three_2s"]] == [(23, 1)]
    assert "two_of_three_2s" not in _rules([0.1, 2.3, 0.4, -0.2, 2.5, 0.0])  # 3 apart
    assert "two_of_three_2s" not in _rules([0.1, 2.3, -2.4, 0.0])  # opposite sides


def test_cusum_signals_a_small_shift_the_shewhart_rules_miss():
    """+0.8 sigma on average, no result beyond 2 sigma and the run broken at the 8th: only the CUSUM (k 0.5, h 4)
    signals, at the first result where C+ exceeds 4 (C+ grows by about 0.3 a result: the 15th here)."""
    tail = [0.8, 0.9, 0.7, 1.0, 0.8, 0.9, 0.6, -0.1, 0.9, 1.1, 0.8, 0.9, 0.7, 0.8, 0.9, -0.1, 0.8, 0.7]
    fired = _rules(tail)
    assert set(fired) == {"cusum"}
    cp, _, _ = spc.cusum(np.array(tail))
    expected = next(i for i, c in enumerate(cp) if c > 4)
    assert [s.index for s in fired["cusum"]] == [20 + expected]


def test_each_signal_reads_in_words_in_both_languages():
    dates, x = _baseline_then([0.1, 3.5])
    res = spc.analyse_series(dates, x)
    sig = next(s for s in res.signals if s.rule == "beyond_3s")
    assert spc.signal_text(sig, "fr") == "2026-02-03 : un résultat au-delà de 3 σ de la ligne centrale (au-dessus)"
    assert spc.signal_text(sig, "en") == "2026-02-03: a result beyond 3 σ of the centre line (above)"


def _step_series(seed: int, n0: int = 40, n1: int = 30, shift: float = 1.0):
    rng = np.random.default_rng(seed)
    x = np.r_[rng.normal(0, 1, n0), rng.normal(shift, 1, n1)]
    return pd.date_range("2026-01-05", periods=n0 + n1, freq="B"), x


def test_a_1_sigma_step_is_detected_within_10_results_and_dated():
    """One series (seed 2: detected at the 6th result after the step, dated on it; seeds 0-4 give 2, 9, 6, 8
    and 18 results, dated -2, +2, 0, 0, 0: the distribution is the next test)."""
    dates, x = _step_series(2)
    res = spc.analyse_series(dates, x)
    after = [s for s in res.signals if s.rule == "cusum" and s.index >= 40]
    assert after and after[0].index - 40 + 1 <= 10
    assert res.step is not None and abs(res.step.index - 40) <= 3
    assert res.step.shift > 0.5


def test_1_sigma_steps_over_many_series():
    """200 series (20 baseline + 20 in control + 30 after a 1 sigma step): the CUSUM's median delay is within 10
    results, and most proposals are within 3 results of the step (measured: delay median 7, 73 % within 10;
    69 % of proposals within 3 results)."""
    delays, near, proposals = [], 0, 0
    for seed in range(200):
        dates, x = _step_series(seed)
        res = spc.analyse_series(dates, x)
        after = [s for s in res.signals if s.rule == "cusum" and s.index >= 40 and s.side == 1]
        if after:
            delays.append(after[0].index - 40 + 1)
        if res.step is not None:
            proposals += 1
            near += abs(res.step.index - 40) <= 3
    assert np.median(delays) <= 10
    assert proposals >= 180 and near / proposals >= 0.6


def test_a_drift_is_not_proposed_as_a_step_but_projected():
    dates = pd.date_range("2026-01-05", periods=60, freq="B")
    rng = np.random.default_rng(5)
    x = np.r_[rng.normal(0, 0.2, 25), 0.05 * np.arange(35) + rng.normal(0, 0.2, 35)]
    res = spc.analyse_series(dates, x, tol_low=-2.0, tol_high=2.0)
    assert res.step is None
    assert res.trend is not None and res.trend.significant and res.trend.reaches_at is not None
    assert res.trend.reaches_at > dates[-1]
    assert res.cpk == pytest.approx(2.0 / (3 * res.limits.sigma), rel=0.05)


def test_the_baseline_restarts_after_the_latest_event_and_a_dismissed_step_is_not_proposed_again():
    dates, x = _step_series(11)
    res = spc.analyse_series(dates, x, events=[dates[40] - pd.Timedelta(hours=1)])
    assert res.baseline.source == "event" and res.phase_start == 40 and res.baseline.n == 20 and res.step is None
    res = spc.analyse_series(dates, x)
    again = spc.analyse_series(dates, x, dismissed=[res.step.at.date().isoformat()])
    assert again.step is None
    few = spc.analyse_series(dates, x, events=[dates[-5]])
    assert few.limits is None and few.reason == "too_few" and "2026" in spc.baseline_text(few, "fr")


def test_a_picked_baseline_holds_until_a_later_event():
    dates, x = _step_series(11)
    stored = (dates[45].date().isoformat(), dates[64].date().isoformat())
    res = spc.analyse_series(dates, x, stored_baseline=stored)
    assert res.baseline.source == "stored" and res.baseline.n == 20 and res.phase_start == 45
    later = spc.analyse_series(dates, x, stored_baseline=stored, events=[dates[66]])
    assert later.baseline is None  # 3 results after the event: no limits yet, the old pick no longer holds


def test_stored_baseline_and_dismissal_are_dated_and_audited(store):
    from qc.records.spc_records import dismiss_step, dismissed_steps, reset_spc_baseline, set_spc_baseline, spc_baseline_for
    from qc.errors import QCInputError

    mid = store.add_machine("U1")
    set_spc_baseline(store, mid, "output", "output_deviation_pct", "", "2026-01-05", "2026-02-01", "Dr A")
    assert spc_baseline_for(store, mid, "output", "output_deviation_pct")["date_from"] == "2026-01-05"
    assert spc_baseline_for(store, mid, "output", "other") is None
    reset_spc_baseline(store, mid, "output", "output_deviation_pct", "", "Dr B")
    assert spc_baseline_for(store, mid, "output", "output_deviation_pct") is None
    with pytest.raises(QCInputError):
        set_spc_baseline(store, mid, "output", "output_deviation_pct", "", "2026-02-01", "2026-01-05", "Dr A")
    dismiss_step(store, mid, "mr_mv", "mrmv_z_mm", "", pd.Timestamp("2026-03-04 18:30"), "Dr A", "mesure refaite")
    assert dismissed_steps(store, mid, "mr_mv", "mrmv_z_mm") == ["2026-03-04"]
    actions = [r["action"] for r in store.db.query("select action from audit order by id")]
    assert actions.count("set_spc_baseline") == 2 and "dismiss_step" in actions


@pytest.fixture(scope="module")
def demo_dir(demo_template, tmp_path_factory):
    return copy_demo(demo_template, tmp_path_factory.mktemp("spc-demo"))


def qc(data_dir, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qc", "--data-dir", str(data_dir), *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_cli_on_the_demo_output_signals_the_drift_weeks_before_the_tolerance(demo_dir):
    r = qc(demo_dir, "spc", "--test", "output", "--metric", "output_deviation_pct", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["baseline"]["n"] == 20 and out["limits"]["ucl"] > out["limits"]["centre"]
    first_bad = pd.Timestamp(out["first_out_of_tolerance"])
    # The drift is upward: the first signal above the centre line after the baseline.
    above = [pd.Timestamp(s["first"]) for s in out["signals"] if s["side"] == 1 and s["first"] > out["baseline"]["last"]]
    assert above and (first_bad - min(above)).days >= 14, (min(above), first_bad)
    text = qc(demo_dir, "spc", "--test", "output", "--metric", "output_deviation_pct")
    assert text.returncode == 0 and "Ligne centrale" in text.stdout and "Signaux" in text.stdout


def test_cli_on_the_demo_mr_to_mv_z_proposes_the_unrecorded_upgrade(demo_dir):
    from qc.records.storage import Store

    out = json.loads(qc(demo_dir, "spc", "--test", "mr_mv", "--metric", "mrmv_z_mm", "--json").stdout)
    with Store(demo_dir) as s:
        comment = [r["acquired_at"][:10] for r in s.db.query("select acquired_at from sessions where comment like '%mise à jour logicielle%'")]
    assert out["step"] is not None and comment
    assert abs((pd.Timestamp(out["step"]["at"]) - pd.Timestamp(comment[0])).days) <= 7  # weekly results: within one result
    bad = qc(demo_dir, "spc", "--test", "mr_mv", "--metric", "nothing")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_monthly_report_has_the_control_chart_table(demo_dir):
    from qc.records.storage import Store
    from qc.reporting.report import monthly_report_pdf
    from qc.registry import all_tests
    from qc.reporting.spc import month_states
    from tests.pypdf_text import pdf_text

    with Store(demo_dir) as s:
        mid = s.machines()[0]["id"]
        last = pd.Timestamp(s.db.execute("select max(acquired_at) from sessions").fetchone()[0])
        month = f"{last:%Y-%m}"
        first = pd.Timestamp(f"{month}-01")
        rows = month_states(s, mid, all_tests(s), first, last, "fr")
        pdf = monthly_report_pdf(s, mid, month)
    by = {(r["test"], r["metric"]): r for r in rows}
    assert by[("output", "output_deviation_pct")]["state"] in ("signal", "out_of_tolerance")
    assert "Cartes de contrôle du mois" in pdf_text(pdf)
