"""FFF profile constancy (qc.mv.fff, NCS report 33 quantities) on synthetic profiles of known slope,
peak position and asymmetry, then through MVIC-Champ against a stored baseline (status level)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from scipy.special import ndtr

from qc.mv import field as F
from qc.mv.fff import fff_profile
from qc.registry import AnalysisContext, Calibration
from qc.synthetic import UNITY_CAX_PX
from qc.synthetic.field import field_image

X = np.arange(-80.0, 80.0, 0.216)  # the Unity MVIC pixel at isocentre
W = 85.0


def _profile(top: np.ndarray, width: float = W, sigma: float = 2.5, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """`top` (the in-field shape) times an erf-blurred box: the field edges sit at ±width/2."""
    box = ndtr((X + width / 2) / sigma) - ndtr((X - width / 2) / sigma)
    y = top * box + 0.01
    if noise:
        y = y + np.random.default_rng(seed).normal(0, noise, y.shape)
    return y


@pytest.mark.parametrize("peak", [-4.0, 0.0, 3.0])
def test_peak_position_of_a_smooth_top(peak):
    r = fff_profile(X, _profile(1 - 2e-5 * (X - peak) ** 2))
    assert r.peak_position_mm == pytest.approx(peak, abs=0.05)
    assert r.centre_mm == pytest.approx(0.0, abs=0.03) and r.width_mm == pytest.approx(W, abs=0.1)


@pytest.mark.parametrize("slope", [0.002, 0.004])
def test_slopes_and_unflatness_of_a_linear_roof(slope):
    """Roof 1 − s|x|: relative to the central value the slope is exactly s (normalisation cancels):
    slope/N(c) = ±s within 0.5 %. N itself: D(inflection) ≈ b + ½·(1 − s·W/2), within 3 % (the
    inflection height of a sloped erf edge is not exactly half the top: a bias of the definition).
    Unflatness = (1 + b)/(1 + b − 0.4·W·s) (the normalisation cancels)."""
    r = fff_profile(X, _profile(1 - slope * np.abs(X)))
    assert r.slope_left_pct_per_mm / r.centre_value_pct == pytest.approx(slope / 1.01, rel=0.005)  # centre = 1 + 1 % leakage
    assert r.slope_right_pct_per_mm / r.centre_value_pct == pytest.approx(-slope / 1.01, rel=0.005)
    expected = 50 * slope / (0.01 + 0.5 * (1 - slope * W / 2))
    assert r.slope_left_pct_per_mm == pytest.approx(expected, rel=0.03)
    # with the 1 % leakage b; the 0.65 mm smoothing rounds the roof's apex by ≈ 0.8·σ·s (≤ 0.002)
    assert r.unflatness == pytest.approx(1.01 / (1.01 - 0.4 * W * slope), abs=0.003)
    assert r.symmetry_pct < 0.01


def test_symmetry_of_an_asymmetric_roof():
    """Left slope 0.003, right 0.004 /mm: |N(c+x) − N(c−x)| = 0.001·x·N(c) about the true centre, largest
    at x = 0.4·W; the measured centre moves a little towards the steeper side (inflection points), within 2 %."""
    top = np.where(X < 0, 1 + 0.003 * X, 1 - 0.004 * X)
    r = fff_profile(X, _profile(top))
    assert r.symmetry_pct / r.centre_value_pct == pytest.approx(0.001 * 0.4 * W / 1.01, rel=0.02)
    assert r.slope_left_pct_per_mm > -r.slope_right_pct_per_mm * 0.7


def test_noise_of_a_band_mean_profile_is_tolerated():
    """0.2 % noise (a 5-pixel band of a 0.5 % image): quantities within their default tolerances' tenth."""
    clean = fff_profile(X, _profile(1 - 0.003 * np.abs(X - 1.0)))
    noisy = fff_profile(X, _profile(1 - 0.003 * np.abs(X - 1.0), noise=0.002, seed=4))
    assert abs(noisy.unflatness - clean.unflatness) < 0.002
    assert abs(noisy.slope_left_pct_per_mm - clean.slope_left_pct_per_mm) < 0.01
    assert abs(noisy.peak_position_mm - clean.peak_position_mm) < 0.5
    assert abs(noisy.symmetry_pct - clean.symmetry_pct) < 0.3


def test_flat_or_missing_edges_give_none():
    assert fff_profile(X, np.ones_like(X)) is None
    assert fff_profile(X[:10], np.ones(10)) is None


def _ctx(**kw) -> AnalysisContext:
    cal = Calibration(UNITY_CAX_PX[0], UNITY_CAX_PX[1], "2024-01-01", 7)
    return AnalysisContext(cax_for=lambda _d: cal, lang="en", **kw)


def test_field_session_fff_against_baseline_status():
    """MVIC-Champ: the FFF quantities are stored per axis; judged as changes from the baseline in force.
    Same beam → pass; the cone apex moved 3 mm in x (a steered beam) → the peak shift fails; no baseline → Non mesuré."""
    from qc import pipeline

    ref, _ = field_image(85, 85, rng=1)
    same, _ = field_image(85, 85, rng=2, acquired_at=dt.datetime(2025, 1, 13, 8))
    steered, _ = field_image(85, 85, rng=3, cone_centre_mm=(3.0, 0.0), acquired_at=dt.datetime(2025, 1, 20, 8))
    r0 = F.analyse([("ref.dcm", ref)], _ctx())
    assert r0.metrics["fff_max_abs_peak_shift_mm"] is None
    assert r0.metrics["fff_unflatness_x[85x85]"] > 1.0
    baseline = F.baseline_from_result(r0)
    assert set(baseline["profiles"]["85x85"]["fff"]["x"]) >= {"unflatness", "peak_position_mm", "symmetry_pct"}
    asked = []

    def baseline_for(when):
        asked.append(when)
        return baseline

    r1 = F.analyse([("same.dcm", same)], _ctx(baseline_for=baseline_for))
    assert asked == [dt.datetime(2025, 1, 13, 8)]  # chosen by the acquisition date
    a1 = pipeline.judge(None, F.SPEC, r1, None)
    st1 = {j.name: j.status for j in a1.judged if j.item == ""}
    assert st1["fff_max_abs_peak_shift_mm"] == "pass" and st1["fff_max_abs_unflatness_change"] == "pass"
    assert st1["fff_max_abs_slope_change_pct_per_mm"] == "pass" and st1["fff_max_abs_symmetry_change_pct"] == "pass"
    assert a1.status == "pass"
    r2 = F.analyse([("steered.dcm", steered)], _ctx(baseline_for=baseline_for))
    shift = r2.items[0]["fff_peak_position_mm_x_change"]
    assert shift == pytest.approx(3.0, abs=0.6)  # the apex of the r^1.3 cusp: see README (bias of the parabola fit)
    a2 = pipeline.judge(None, F.SPEC, r2, None)
    assert {j.name: j.status for j in a2.judged if j.item == ""}["fff_max_abs_peak_shift_mm"] == "fail"
    assert a2.status == "fail"
    a0 = pipeline.judge(None, F.SPEC, r0, None)
    assert {j.name: j.status for j in a0.judged if j.item == ""}["fff_max_abs_peak_shift_mm"] == "fail"  # Non mesuré
