"""Relative B1 by the double-angle method on synthetic spin echoes of known B1 (docs/mr.md: within 0.01)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from qc import pipeline
from qc.errors import QCInputError
from qc.mr import b1
from qc.registry import AnalysisContext
from qc.synthetic import mr_linac as S

WHEN = dt.datetime(2026, 11, 20, 9, 0)


def test_the_double_angle_formula_inverts_the_signal_equation():
    truth = np.linspace(0.6, 1.4, 17)
    s60, s120 = np.sin(math.radians(60) * truth), np.sin(math.radians(120) * truth)
    assert np.allclose(b1.relative_b1(s60, s120), truth)
    assert b1.relative_b1(np.array([1.0]), np.array([1.0]))[0] == pytest.approx(1.0)


def test_b1_statistics_are_within_0_01_of_the_truth():
    files, truth = S.b1_study(WHEN, seed=31)
    r = b1.analyse(files, AnalysisContext())
    for ori in ("transverse", "coronal", "sagittal"):
        for dsv in b1.DSVS_MM:
            tr = truth.stats(ori, dsv)
            for key in ("mean", "p5", "p95", "min"):
                assert r.measurement(f"b1_{key}_dsv{dsv:g}", ori).value == pytest.approx(tr[key], abs=0.01), (ori, dsv, key)
    assert pipeline.judge(None, b1.SPEC, r, None).status == "pass"


def test_an_unpaired_image_is_listed_and_a_lone_flip_angle_refused():
    files, _ = S.b1_study(WHEN, seed=2, n=96, spacing_mm=4.7)
    without_one = [f for f in files if f[0] != "b1_sagittal_120_1.dcm"]
    r = b1.analyse(without_one, AnalysisContext())
    assert any("b1_sagittal_60_1.dcm" in w for w in r.warnings)
    assert {m.item for m in r.measurements if m.item} == {"transverse", "coronal"}
    with pytest.raises(QCInputError):
        b1.analyse([f for f in files if "_60_" in f[0]], AnalysisContext())
