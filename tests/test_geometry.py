"""The MV toolkit's edge and line helpers (qc.mv.geometry), against analytic profiles and lines."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erf

from qc.mv.geometry import fit_line_robust, inflection_edge, level_crossing_near, line_intersection


def _erf_edge(n: int, edge: float, sigma: float, rising: bool = True) -> np.ndarray:
    """Pixel-integrated error-function edge from 0 to 1 (its inflection is exactly at `edge`)."""
    x = np.arange(n, dtype=float)[:, None] + np.linspace(-0.5, 0.5, 21)[None, :]
    s = 1 if rising else -1
    return np.mean(0.5 * (1 + erf(s * (x - edge) / (sigma * np.sqrt(2)))), axis=1)


@pytest.mark.parametrize("sigma", [2.0, 6.0, 11.6])
@pytest.mark.parametrize("phase", [0.0, 0.25, 0.5, 0.8])
def test_inflection_edge_is_exact_on_erf(sigma, phase):
    edge = 50 + phase
    pos, value = inflection_edge(_erf_edge(100, edge, sigma), +1, smooth_px=1.0)
    assert pos == pytest.approx(edge, abs=0.01)
    assert value == pytest.approx(0.5, abs=0.01)
    pos, _ = inflection_edge(_erf_edge(100, edge, sigma, rising=False), -1, smooth_px=1.0)
    assert pos == pytest.approx(edge, abs=0.01)


def test_inflection_edge_noise_and_direction():
    rng = np.random.default_rng(0)
    prof = _erf_edge(120, 60.3, 11.6) * 0.85 + rng.normal(0, 0.003, 120)
    pos, _ = inflection_edge(prof, +1, smooth_px=3.0)
    assert pos == pytest.approx(60.3, abs=0.5)
    # no falling edge in a rising profile: the search finds nothing useful or a noise blip far from 60
    flat = np.zeros(50)
    assert np.isnan(inflection_edge(flat, +1)[0])


def test_level_crossing_near():
    p = np.array([0.0, 0.1, 0.3, 0.7, 0.9, 1.0])
    assert level_crossing_near(p, 0.5, 3.0, -1) == pytest.approx(2.5)
    assert level_crossing_near(p, 0.95, 3.0, +1) == pytest.approx(4.5)
    assert np.isnan(level_crossing_near(p, 2.0, 3.0, +1))


def test_fit_line_robust_rejects_outliers():
    t = np.linspace(-30, 30, 31)
    s = 75.0 + 0.0175 * t
    s_bad = s.copy()
    s_bad[[3, 17, 25]] += [2.0, -1.5, 3.0]
    line = fit_line_robust(t, s_bad, floor=0.05)
    assert line is not None
    assert line.intercept == pytest.approx(75.0, abs=1e-9)
    assert line.slope == pytest.approx(0.0175, abs=1e-12)
    assert list(np.nonzero(~line.inliers)[0]) == [3, 17, 25]
    assert fit_line_robust(t[:3], s[:3]) is None


def test_line_intersection():
    p = line_intersection(np.array([0.0, 1.0]), np.array([1.0, 0.0]), np.array([2.0, 0.0]), np.array([0.0, 1.0]))
    assert p == pytest.approx([2.0, 1.0])
    assert line_intersection(np.zeros(2), np.array([1.0, 0.0]), np.ones(2), np.array([2.0, 0.0])) is None
