"""mr-slice-thickness: opposed-ramp slice thickness on synthetic images of known truth (a non-model slice
profile: Hann-windowed sinc RF pulse, finite plates, tilt, shading, Rician noise), on the real hazen
images against MANIFEST values, bad input, session verdicts and the page."""

from __future__ import annotations

import math

import pytest

from mr_spatial_helpers import ctx, demo_page_round_trip, kspace_doubled, pixels_of, real_inputs, rewritten
from qc import pipeline
from qc.errors import QCInputError
from qc.mr import slice_thickness as st
from qc.registry import get_test
from qc.synthetic.mr_phantoms import acr_series, magnet_dicom, ramp_bias_mm

ACCURACY_MM = 0.2  # README claim: synthetic slice thickness within 0.2 mm


def test_opposed_ramp_formula_is_exact_and_reduces_to_the_acr_formula():
    theta = math.atan(0.1)
    for w, phi_deg in ((5.0, 0.0), (5.0, 3.0), (3.0, -2.0)):
        phi = math.radians(phi_deg)
        l1, l2 = w / math.tan(theta + phi), w / math.tan(theta - phi)
        got, tilt = st.opposed_ramps_thickness_mm(l1, l2, 0.1)
        assert got == pytest.approx(w, abs=1e-9) and tilt == pytest.approx(phi_deg, abs=1e-7)
    # small tilt: the ACR 0.2·L1·L2/(L1+L2)
    l1, l2 = 52.0, 48.0
    assert st.opposed_ramps_thickness_mm(l1, l2, 0.1)[0] == pytest.approx(0.2 * l1 * l2 / (l1 + l2), rel=2e-3)


def test_the_plate_bias_of_the_generator_is_negligible():
    assert abs(ramp_bias_mm(5.0)) < 0.02 and abs(ramp_bias_mm(3.0)) < 0.02


@pytest.mark.parametrize("thickness, tilt", [(3.0, -2.0), (5.0, 0.0), (5.0, 3.0), (6.3, 0.0), (8.0, 1.0)])
def test_magnet_synthetic_within_claim(thickness, tilt):
    data, truth = magnet_dicom(thickness, tilt_deg=tilt, seed=11)
    r = st.analyse([("magnet.dcm", data)], ctx())
    it = r.items[0]
    assert it["phantom"] == "magnet"
    assert abs(it["slice_thickness_mm"] - truth.slice_thickness_mm) <= ACCURACY_MM, it
    assert it["tilt_deg"] == pytest.approx(tilt, abs=0.3)


@pytest.mark.parametrize("thickness, tilt", [(3.0, -2.0), (5.0, 0.0), (5.0, 3.0), (8.0, 1.0)])
def test_acr_synthetic_within_claim(thickness, tilt):
    files, truth = acr_series(thickness_mm=thickness, tilt_deg=tilt, seed=5)
    r = st.analyse(files[:1], ctx())
    it = r.items[0]
    assert it["phantom"] == "acr"
    assert abs(it["slice_thickness_mm"] - truth.slice_thickness_mm) <= ACCURACY_MM, it
    assert len(r.overlays) == 1 and r.extra["profiles"][it["image"]][0]["z_mm"]


@pytest.mark.parametrize("thickness, tilt, lobe", [(5.0, 0.0, 0.3), (5.0, 2.0, 0.3), (3.0, -1.0, 0.3), (8.0, 1.0, 0.25)])
def test_acr_slice_profile_with_side_lobes_within_claim(thickness, tilt, lobe):
    """Side lobes of 25-30 % of the peak 1.2 FWHM out (as on hazen's 3 T Siemens ACR image) are signal, not
    baseline: the FWHM is read from the bar's floor. (The former median-of-the-ends baseline read 8 mm as 7.66.)"""
    files, truth = acr_series(thickness_mm=thickness, tilt_deg=tilt, seed=5, side_lobes=lobe)
    r = st.analyse(files[:1], ctx())
    assert abs(r.items[0]["slice_thickness_mm"] - truth.slice_thickness_mm) <= ACCURACY_MM, r.items[0]


# hazen's ACR slice thickness is 0.2·L1·L2/(L1+L2) of ramp FWHMs in pixels (hazen 2.0.0 prints 9.99 for the
# GE 512² image, 0.51 mm pixels): in mm it is the MANIFEST value × the pixel spacing.
ACR_PX_MM = 0.9765625

# Real images: MANIFEST / hazen values. Margins: MagNET ±0.2 mm (MATLAB 5.48, hazen 2.x 5.43 on the same file:
# trapezoid fit with a quadratic baseline through the profile's ends vs our FWHM of the dip against the fluid
# beside the plate band; ours 5.33, and 6.15 before that baseline under a coil-like shading); ACR Philips ±0.5 mm; ACR Siemens ±0.8 mm: its ramps have side lobes and no
# plateau, hazen's smoothed piecewise-sigmoid fit reads them 57/61 px (5.75 mm) here but 41/56 px (4.64 mm) on
# acr/Siemens2, the same slice with a little noise added; ours reads 5.02 / 5.03 mm (see README figure).
@pytest.mark.parametrize(
    "parts, expected, margin",
    [
        (("slicewidth", "SLICEWIDTH", "ANNUALQA.MR.HEAD_GENERAL.tra.slice_width.IMA"), 5.48, 0.2),
        (("acr", "PhilipsAchieva", "0.dcm"), 5.36 * ACR_PX_MM, 0.5),
        (("acr", "Siemens", "0.dcm"), 5.89 * ACR_PX_MM, 0.8),
    ],
)
def test_real_images_against_manifest(parts, expected, margin):
    r = st.analyse(real_inputs(*parts), ctx())
    assert abs(r.items[0]["slice_thickness_mm"] - expected) <= margin, r.items[0]


def test_real_acr_siemens_repeat_reads_the_same():
    """acr/Siemens2 slice 1 is acr/Siemens slice 1 with a little noise: hazen moves by 1.1 mm, we must not."""
    a = st.analyse(real_inputs("acr", "Siemens", "0.dcm"), ctx()).items[0]["slice_thickness_mm"]
    b = st.analyse(real_inputs("acr", "Siemens2", "0.dcm"), ctx()).items[0]["slice_thickness_mm"]
    assert abs(a - b) <= 0.05


def test_a_slice_without_ramps_is_refused_with_a_sentence():
    files, _ = acr_series(seed=1)
    with pytest.raises(QCInputError) as exc:
        st.analyse(files[6:7], ctx())
    assert "rampes" in exc.value.message("fr")


def test_images_without_ramps_are_listed_beside_the_measured_one():
    files, _ = acr_series(seed=2)
    r = st.analyse(files[:3], ctx())
    assert len(r.items) == 1
    assert sum("écartée" in w for w in r.warnings) == 2


def test_session_verdicts():
    spec = get_test("mr-slice-thickness")
    good, _ = magnet_dicom(5.1, nominal_mm=5.0, seed=3)
    assert pipeline.analyse(None, spec, [("a.dcm", good)], None).status == "pass"
    bad, _ = magnet_dicom(6.2, nominal_mm=5.0, seed=3)
    assert pipeline.analyse(None, spec, [("b.dcm", bad)], None).status == "fail"


def test_page_demo_analyse_and_save(qc_data_dir):
    demo_page_round_trip("mr-slice-thickness", "mr-slice-thickness", qc_data_dir)


def test_the_sagittal_localiser_is_refused_with_a_sentence():
    with pytest.raises(QCInputError) as exc:
        st.analyse(real_inputs("acr", "PhilipsAchievaLocalizer", "0.dcm"), ctx())
    assert "0.dcm" in exc.value.message("fr")


def test_magnet_512_matrix_within_claim():
    data, truth = magnet_dicom(5.0, tilt_deg=1.0, n=512, spacing_mm=0.5, seed=8)
    r = st.analyse([("magnet512.dcm", data)], ctx())
    assert abs(r.items[0]["slice_thickness_mm"] - truth.slice_thickness_mm) <= ACCURACY_MM, r.items[0]


MAGNET_REAL = ("slicewidth", "SLICEWIDTH", "ANNUALQA.MR.HEAD_GENERAL.tra.slice_width.IMA")


def coil_shaded(data: bytes, edge_gain: float = 0.5) -> bytes:
    """The same image under a receive-array shading: signal × (1 + g·r²), bright towards the edges (+50 % at the
    phantom's edge for g = 0.5, r = distance from the centre over 0.4 × the field of view)."""
    import numpy as np

    a = pixels_of(data)
    y, x = np.mgrid[0 : a.shape[0], 0 : a.shape[1]]
    r2 = ((y / a.shape[0] - 0.5) ** 2 + (x / a.shape[1] - 0.5) ** 2) / 0.4**2
    return rewritten(data, a * (1 + edge_gain * r2))


def _magnet_width(name: str, data: bytes) -> float:
    return st.analyse([(name, data)], ctx()).items[0]["slice_thickness_mm"]


def test_magnet_real_width_does_not_depend_on_the_matrix():
    """A Toshiba 512² MagNET image (0.5 mm pixels) read 6.17 mm where hazen and MATLAB read 4.97: the real 256²
    Siemens file and its 512² version (k-space zero-padded, as a scanner interpolates) must read the same."""
    (name, data), = real_inputs(*MAGNET_REAL)
    w256, w512 = _magnet_width(name, data), _magnet_width("x512.ima", kspace_doubled(data))
    assert abs(w512 - w256) <= 0.1 and abs(w256 - 5.48) <= 0.2, (w256, w512)


@pytest.mark.parametrize("doubled", [False, True])
def test_magnet_real_width_does_not_depend_on_the_coil_shading(doubled):
    """The fluid's shading must not move the width: under a receive-array shading (+50 % at the edge) the former
    straight baseline through the profile's flanks read 6.15 mm (the Toshiba figure: 6.17), for 5.72 unshaded."""
    (name, data), = real_inputs(*MAGNET_REAL)
    if doubled:
        data = kspace_doubled(data)
    plain, shaded = _magnet_width(name, data), _magnet_width(name, coil_shaded(data))
    assert abs(shaded - plain) <= 0.05 and abs(shaded - 5.48) <= 0.2, (plain, shaded)


@pytest.mark.parametrize("n, spacing", [(256, 1.0), (512, 0.5)])
def test_magnet_synthetic_under_coil_shading_within_claim(n, spacing):
    """Known truth (5.0 mm) under a receive-array shading of +100 % at the phantom's edge (a multi-channel array near
    its elements): the straight baseline through the profile's flanks read 5.38–5.39 (+50 %: 5.18; +150 %: 5.59); the
    fluid beside the band reads 4.95–4.97 at every gain and matrix."""
    data, truth = magnet_dicom(5.0, tilt_deg=1.0, n=n, spacing_mm=spacing, seed=8)
    got = _magnet_width("shaded.dcm", coil_shaded(data, edge_gain=1.0))
    assert abs(got - truth.slice_thickness_mm) <= ACCURACY_MM, (got, truth.slice_thickness_mm)
