"""ACR high-contrast resolution (hole arrays, slice 1): synthetic inserts seen through a known PSF (truth from
the noise-free image at the known hole centres), the real hazen ACR series against MANIFEST, the verdicts."""

from __future__ import annotations

import pytest

from mr_spatial_helpers import ctx, real_inputs
from qc import pipeline
from qc.mr import acr
from qc.mr.acr_resolution import measure_hole_resolution
from qc.mr.phantom_geometry import find_phantom
from qc.registry import get_test
from qc.synthetic.mr_phantoms import ACR_HOLE_SIZES_MM, acr_resolution_slice, acr_series

SP = (0.48828125, 0.48828125)


def _check_truth(r, truth):
    """Every array whose truth is clear (modulation ≥ 0.3 or ≤ 0.03) is judged as the truth says."""
    for a in r.arrays:
        want = truth.resolvable(a.array, a.size_mm)
        if want is not None:
            assert a.resolved == want, (a.array, a.size_mm, a.line_peaks, truth.modulation[(a.array, a.size_mm)])


# (PSF, expected UL = right-left, expected LR = top-bottom)
CASES = [
    (dict(sigma_mm=(0.15, 0.15)), 0.9, 0.9),  # sharp
    (dict(sigma_mm=(0.15, 0.15), rotation_deg=2.0), 0.9, 0.9),  # phantom turned 2°
    (dict(sigma_mm=(0.15, 0.15), cutoff_lp_mm=(None, 0.47)), 0.9, 1.0),  # fewer k-space lines along y
    (dict(sigma_mm=(0.15, 0.15), cutoff_lp_mm=(None, 0.43)), 0.9, 1.1),
    (dict(sigma_mm=(0.15, 0.15), cutoff_lp_mm=(0.47, None)), 1.0, 0.9),  # and along x
    (dict(sigma_mm=(1.0, 1.0)), None, None),  # very blurred: nothing resolved
]


@pytest.mark.parametrize("psf, ul, lr", CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_synthetic_psf(psf, ul, lr, seed):
    img, truth = acr_resolution_slice(noise_sd=0.02, seed=seed, **psf)
    assert truth.resolvable("UL", ul) if ul else all(truth.resolvable("UL", s) is False for s in ACR_HOLE_SIZES_MM)
    r = measure_hole_resolution(img, find_phantom(img), SP)
    assert (r.resolution_ul_mm, r.resolution_lr_mm) == (ul, lr)
    _check_truth(r, truth)
    if "rotation_deg" in psf:
        assert r.rotation_deg == pytest.approx(psf["rotation_deg"], abs=0.3)


# Real ACR series (MANIFEST, hazen 2.0.0 asserted values: best / UL / LR). Ours: Philips and GE as hazen;
# Siemens UL (right-left) reads 1.0 mm where hazen reads 0.9: the 0.9 mm rows dip 14–35 between holes for
# a noise σ of 11.5 (below our 3σ), see docs/mr.md. Both pass the ACR limit (≤ 1.0 mm).
@pytest.mark.parametrize("folder, ul, lr", [("Siemens", 1.0, 0.9), ("PhilipsAchieva", 1.0, 1.0), ("GE", 0.9, 0.9)])
def test_real_series(folder, ul, lr):
    r = acr.analyse(real_inputs("acr", folder), ctx())
    v = {m.name: m.value for m in r.measurements}
    assert (v["resolution_ul_mm"], v["resolution_lr_mm"]) == (ul, lr)
    assert sum("trous" in str(i["what"]) for i in r.items) == 6
    assert len(r.overlays) == 5


def test_session_fails_when_the_1mm_arrays_are_not_resolved():
    spec = get_test("mr-acr")
    files, _ = acr_series(thickness_mm=5.1, seed=4)
    good = pipeline.analyse(None, spec, files, None)
    assert {j.name: j.status for j in good.judged}["resolution_ul_mm"] == "pass"
    assert {j.name: j.status for j in good.judged}["resolution_lr_mm"] == "pass"
    # blurred along y only (σ 1.0 mm): top-bottom resolution not measured → Non conforme
    files, _ = acr_series(thickness_mm=5.1, seed=4, hole_psf_sigma_mm=(0.2, 1.0))
    res = pipeline.analyse(None, spec, files, None)
    st = {j.name: (j.value, j.status) for j in res.judged}
    assert st["resolution_lr_mm"] == (None, "fail")
    assert st["resolution_ul_mm"][1] == "pass"
    assert res.status == "fail"
    # very blurred: neither direction
    files, _ = acr_series(thickness_mm=5.1, seed=4, hole_psf_sigma_mm=(1.2, 1.2))
    res = pipeline.analyse(None, spec, files, None)
    st = {j.name: (j.value, j.status) for j in res.judged}
    assert st["resolution_ul_mm"] == (None, "fail") and st["resolution_lr_mm"] == (None, "fail")
    assert res.status == "fail"
