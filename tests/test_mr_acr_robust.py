"""mr-acr on what real scanners add (issue #23): a phantom turned on the table, a slice missing from the series,
3 T shading / a bright rim / coil proximity at the wall, an Enhanced multi-frame object with its frames
shuffled. Synthetic sets of known truth (`qc.synthetic.mr_phantoms.acr_series`); each case failed on the
analyser before this change (refused, shifted slices, diameters 1–12 mm off or not measured)."""

from __future__ import annotations

import pytest

from mr_spatial_helpers import ctx
from qc import pipeline
from qc.errors import QCInputError
from qc.mr import acr
from qc.registry import get_test
from qc.synthetic.mr_phantoms import acr_series


def values(r):
    return {(m.name, m.item): m.value for m in r.measurements}


def diameters_of(v):
    return {k[1]: val for k, val in v.items() if k[0] == "acr_diameter_mm"}


@pytest.mark.parametrize("rotation", [9.0, -6.0, 3.5])
def test_turned_phantom_is_analysed_in_its_frame(rotation):
    """Before: « no end slice shows the thickness bar », the set refused. Now the turn is measured on the bar,
    reported, and slices 1 and 11 are measured in the phantom's frame."""
    files, truth = acr_series(rotation_deg=rotation, thickness_mm=5.4, bar_difference_mm=3.0, seed=11)
    r = acr.analyse(files, ctx())
    v = values(r)
    assert v[("acr_rotation_deg", "")] == pytest.approx(rotation, abs=0.2)
    assert r.params["rotation_deg"] == pytest.approx(rotation, abs=0.2) and r.params["analysed_in_phantom_frame"]
    assert v[("acr_slice_thickness_mm", "")] == pytest.approx(5.4, abs=0.25)
    assert v[("acr_slice_position_mm", "#1")] == pytest.approx(3.0, abs=0.3)
    assert v[("acr_slice_position_mm", "#11")] == pytest.approx(3.0, abs=0.3)
    assert v[("resolution_ul_mm", "")] is not None and v[("resolution_lr_mm", "")] is not None
    d = diameters_of(v)
    assert len(d) == 6 and all(abs(x - 190.0) <= 0.4 for x in d.values()), d
    assert any(it["measure"] == acr.SPEC_METRICS["acr_rotation_deg"].label("fr") for it in r.items)


@pytest.mark.parametrize("missing", [7, 5])
def test_missing_slice_is_named_and_the_others_stay_on_their_slices(missing):
    """Before: « 10 coupes au lieu de 11 », then slice 8 measured as slice 7 (PIU and SNR from the wrong
    slice, a false verdict). Now slices are numbered by their position: the measures of the missing slice are
    not measured with the reason, the others are made on the right slices, identical to the complete set's."""
    full, _ = acr_series(seed=12)
    files, _ = acr_series(seed=12, omit=(missing,))  # same noise draw: the same pixels on every slice present
    assert len(files) == 10
    r = acr.analyse(files, ctx())
    v, vf = values(r), values(acr.analyse(full, ctx()))
    assert any(f"coupe(s) {missing} absente(s)" in w for w in r.warnings), r.warnings
    assert r.params["missing_slices"] == [missing]
    assert r.params["slices"][str(missing)] is None
    present = {5: "acr_05.dcm", 7: "acr_07.dcm", 11: "acr_11.dcm"}
    for k, name in present.items():
        if k != missing:
            assert r.params["slices"][str(k)] == name
    if missing == 7:
        for name in ("acr_piu_pct", "acr_ghosting_pct", "acr_snr"):
            m = r.measurement(name)
            assert m.value is None and "coupe 7" in m.reason, (name, m)
        assert v[("acr_diameter_mm", "#5 45°")] == vf[("acr_diameter_mm", "#5 45°")]
    else:
        assert all(v[("acr_diameter_mm", f"#5 {a}°")] is None for a in (0, 45, 90, 135))
        assert "coupe 5" in r.measurement("acr_diameter_max_error_mm").reason
        assert v[("acr_piu_pct", "")] == vf[("acr_piu_pct", "")]
        assert v[("acr_snr", "")] == vf[("acr_snr", "")]
    assert v[("acr_slice_position_mm", "#11")] == vf[("acr_slice_position_mm", "#11")]


def test_missing_slice_fails_the_session():
    files, _ = acr_series(thickness_mm=5.1, seed=4, omit=(7,))
    a = pipeline.analyse(None, get_test("mr-acr"), files, None)
    assert a.status == "fail"  # PIU and ghosting have limits: not measured fails


def test_series_without_positions_and_a_slice_missing_is_refused_naming_why():
    import io

    import pydicom

    files, _ = acr_series(seed=5, omit=(6,))
    out = []
    for name, data in files:
        ds = pydicom.dcmread(io.BytesIO(data))
        del ds.ImagePositionPatient
        del ds.SliceLocation
        buf = io.BytesIO()
        ds.save_as(buf)
        out.append((name, buf.getvalue()))
    with pytest.raises(QCInputError) as exc:
        acr.analyse(out, ctx())
    assert "10 images sans position" in exc.value.message("fr")


@pytest.mark.parametrize(
    "model",
    [
        # 3 T: centre brightening, posterior elements, bright rim, 1 mm blur: the old global level read 190.8–191.2
        dict(rim=0.8, dielectric=0.6, coil_gradient=0.3, edge_blur_mm=1.0),
        # strong shading: the old level missed the dim anterior wall (a diameter not measured, others 178–186 mm)
        dict(dielectric=1.5, coil_gradient=0.5, edge_blur_mm=1.0),
    ],
)
def test_diameters_and_positions_with_shading_rim_and_grid(model):
    """Also the slice-position wedges: under the strong shading the fluid at the top wall fell below the global
    half level and both positions were not measured; they are now read against each row's own fluid signal."""
    files, _ = acr_series(seed=13, grid=True, bar_difference_mm=3.0, **model)
    r = acr.analyse(files, ctx())
    v = values(r)
    d = diameters_of(v)
    assert len(d) == 6 and all(x is not None and abs(x - 190.0) <= 0.5 for x in d.values()), d
    for k in ("#1", "#11"):
        assert v[("acr_slice_position_mm", k)] == pytest.approx(3.0, abs=0.3), k


def test_enhanced_multiframe_turned_shuffled_with_a_frame_missing():
    """One Enhanced MR object, frames shuffled, slice 3 absent, phantom turned −6°: each frame's own position
    (per-frame functional group) numbers it; the set is analysed and slice 3 named."""
    files, _ = acr_series(enhanced=True, shuffle_seed=4, rotation_deg=-6.0, omit=(3,), seed=14, thickness_mm=5.2,
                          bar_difference_mm=-2.0, grid=True)
    assert len(files) == 1
    r = acr.analyse(files, ctx())
    v = values(r)
    assert v[("acr_rotation_deg", "")] == pytest.approx(-6.0, abs=0.2)
    assert v[("acr_slice_thickness_mm", "")] == pytest.approx(5.2, abs=0.25)
    assert v[("acr_slice_position_mm", "#1")] == pytest.approx(-2.0, abs=0.3)
    assert r.params["missing_slices"] == [3]
    d = diameters_of(v)
    assert len(d) == 6 and all(abs(x - 190.0) <= 0.4 for x in d.values()), d
    assert all(r.params["slices"][k].startswith("acr_enhanced.dcm [") for k in ("1", "5", "7", "11"))


def test_number_slices_by_position_not_rank():
    class S:
        def __init__(self, loc, label):
            self.slice_location_mm, self.label = loc, label

    ordered = [S(40.0, "a"), S(30.1, "b"), S(10.0, "c"), S(4.0, "odd"), S(0.0, "d"), S(-80.0, "far")]
    n = acr.number_slices(ordered, "fr")
    assert {k: s.label for k, s in n.by_number.items()} == {1: "a", 2: "b", 4: "c", 5: "d"}
    assert [s.label for s in n.off_grid] == ["odd", "far"]
    assert n.missing == [3, 6, 7, 8, 9, 10, 11]


def test_dual_echo_series_analyses_the_first_echo_and_never_subtracts_echoes():
    """A dual-echo series (the ACR T2 protocol: one series UID, two images per position, TE 20 and 80 ms) is not
    two repeats of one acquisition: before, the second echo was taken as the repeat and a difference SNR was
    computed between two contrasts. Now the first echo is analysed and the second named as not analysed."""
    from pydicom.uid import generate_uid

    uid = generate_uid()
    e1, _ = acr_series(seed=15, echo_time_ms=20.0, series_uid=uid, prefix="e1")
    e2, _ = acr_series(seed=16, echo_time_ms=80.0, series_uid=uid, prefix="e2")
    r = acr.analyse(e2 + e1, ctx())
    v = values(r)
    assert ("acr_snr_difference", "") not in v
    assert r.params["slices"]["7"] == "e1_07.dcm"
    assert any("TE 80,0 ms" in w for w in r.warnings), r.warnings


@pytest.mark.parametrize("model", [dict(dielectric=1.5, coil_gradient=0.5), dict(dielectric=2.0, coil_gradient=0.7)])
def test_piu_disc_centred_on_the_phantom_not_on_the_bright_side(model):
    """Under a coil's falloff the mask (global half level) loses the dim side and its centroid leans to the
    bright side by several mm: the 200 cm² disc then skipped the dim edge (PIU 60.4 for a true 52.1). Truth:
    the same PIU definition on the same slice, the disc at the phantom's true centre (the image centre)."""
    import io
    from dataclasses import replace

    import numpy as np
    import pydicom

    from qc.mr.phantom_geometry import find_phantom

    files, _ = acr_series(seed=17, **model)
    r = acr.analyse(files, ctx())
    img = pydicom.dcmread(io.BytesIO(files[6][1])).pixel_array.astype(float)
    true_centre = ((img.shape[0] - 1) / 2, (img.shape[1] - 1) / 2)
    truth = acr.piu(img, replace(find_phantom(img), centre_rc=true_centre), (0.9765625, 0.9765625))[0]
    assert r.measurement("acr_piu_pct").value == pytest.approx(truth, abs=0.5)
    assert np.isfinite(truth)


def test_slice_1_missing_is_refused_with_the_reason():
    files, _ = acr_series(seed=18, omit=(1,))
    with pytest.raises(QCInputError) as exc:
        acr.analyse(files, ctx())
    msg = exc.value.message("fr")
    assert "la coupe 1 manque probablement" in msg and "10 images sur 90" in msg, msg
