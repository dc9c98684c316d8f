"""B0 homogeneity (B0 maps) and B0 versus gantry angle on synthetic Philips-like series of known truth.

The docs/mr.md accuracy table is these tolerances: B0 statistics within 0.02 ppm of the truth, gantry-angle
differences within 0.01 ppm."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from qc import pipeline
from qc.errors import QCInputError
from qc.mr import b0, b0_gantry
from qc.mr.linac_series import B0, B1, GANTRY, route, scan_headers, series_test
from qc.registry import AnalysisContext
from qc.synthetic import mr_linac as S

WHEN = dt.datetime(2026, 11, 20, 9, 0)


@pytest.fixture(scope="module")
def b0_study():
    return S.b0_map_study(WHEN, seed=21)


@pytest.fixture(scope="module")
def gantry_series():
    return S.gantry_phase_series(WHEN, seed=22)


def test_b0_statistics_are_within_0_02_ppm_of_the_truth(b0_study):
    files, truth = b0_study
    r = b0.analyse(files, AnalysisContext())
    assert r.acquired_at == WHEN and r.station_name == S.STATION
    for ori in ("transverse", "coronal", "sagittal"):
        for dsv in b0.DSVS_MM:
            tr = truth.stats(ori, dsv)
            for key in ("pk_pk", "sd", "p95"):
                got = r.measurement(f"{key}_ppm_dsv{dsv:g}", ori).value
                assert got == pytest.approx(tr[key], abs=0.02), (ori, dsv, key)
    worst = max(truth.stats(o, 350.0)["pk_pk"] for o in ("transverse", "coronal", "sagittal"))
    assert r.metrics["worst_pk_pk_ppm_dsv350"] == pytest.approx(worst, abs=0.02)
    assert len(r.overlays) == 3 and r.overlays[0][1].dtype == np.uint8


def test_b0_without_magnitude_images_masks_from_the_map_and_says_so(b0_study):
    files, truth = b0_study
    only_maps = [(n, d) for n, d in files if n.endswith("_B0.dcm")]
    r = b0.analyse(only_maps, AnalysisContext())
    assert any("module" in w for w in r.warnings)
    for ori in ("transverse", "sagittal"):
        assert r.measurement("sd_ppm_dsv350", ori).value == pytest.approx(truth.stats(ori, 350.0)["sd"], abs=0.02)


def test_a_homogeneous_magnet_passes_and_a_badly_shimmed_one_fails():
    good = b0.analyse(S.b0_map_study(WHEN, seed=3)[0], AnalysisContext())
    assert pipeline.judge(None, b0.SPEC, good, None).status == "pass"
    coeffs = {k: 4 * v for k, v in S.DEFAULT_B0_COEFFS.items()}
    bad = b0.analyse(S.b0_map_study(WHEN, seed=3, coeffs=coeffs)[0], AnalysisContext())
    judged = pipeline.judge(None, b0.SPEC, bad, None)
    assert judged.status == "fail"
    assert any(j.name == "worst_pk_pk_ppm_dsv350" and j.status == "fail" for j in judged.judged)


def test_gantry_differences_are_within_0_01_ppm_of_the_truth(gantry_series):
    files, truth = gantry_series
    r = b0_gantry.analyse(files, AnalysisContext())
    assert r.params["angles_deg"] == truth.angles_deg and r.params["angles_from"] == "description"
    assert r.params["echo_time_ms"] == pytest.approx(15.66)
    # −180° and +180° are one gantry position (+180°, measured twice): its row is the less favourable of the two.
    for group in b0_gantry.gantry_positions(truth.angles_deg):
        angle = b0_gantry.wrapped_deg(truth.angles_deg[group[0]])
        if angle == 0:
            continue
        k = max(group, key=lambda i: truth.stats(i, 350.0)["pk_pk"])
        for dsv in b0_gantry.DSVS_MM:
            tr = truth.stats(k, dsv)
            for key in ("pk_pk", "sd", "mean"):
                got = r.measurement(f"{key}_ppm_dsv{dsv:g}", f"{angle:+g}°").value
                assert got == pytest.approx(tr[key], abs=0.01), (angle, dsv, key)
    assert len(r.items) == 11 and any("+180" in w and "deux fois" in w for w in r.warnings)
    worst_k = max((k for k, a in enumerate(truth.angles_deg) if a != 0), key=lambda k: truth.stats(k, 350.0)["pk_pk"])
    assert r.metrics["worst_pk_pk_ppm_dsv350"] == pytest.approx(truth.stats(worst_k, 350.0)["pk_pk"], abs=0.01)
    assert pipeline.judge(None, b0_gantry.SPEC, r, None).status == "pass"


def test_gantry_angles_follow_the_description_or_the_option():
    files, _ = S.gantry_phase_series(WHEN, seed=2, n=64, spacing_mm=7.0, description="SHIM_CHECK_30_deg_fwd (start at 181)")
    series = [s for s in scan_headers(files)[0] if series_test(s) == GANTRY][0]
    angles, source = b0_gantry.gantry_angles(series, 13, {})
    assert source == "description" and angles[0] == -179.0 and angles[-1] == 181.0
    assert b0_gantry.reference_index(angles) == 6
    angles, source = b0_gantry.gantry_angles(series, 13, {"gantry_angles_deg": [180 - 30 * k for k in range(13)]})
    assert source == "option" and angles[0] == 180
    with pytest.raises(QCInputError):
        b0_gantry.gantry_angles(series, 13, {"gantry_angles_deg": [0, 30]})


def test_a_study_is_routed_by_its_headers(b0_study, gantry_series):
    b1_files, _ = S.b1_study(WHEN, seed=1, n=64, spacing_mm=7.0)
    from conftest import blank_rt_image

    routed, left = route(b0_study[0] + gantry_series[0] + b1_files + [("portal.dcm", blank_rt_image(0.5)), ("notes.txt", b"hello")])
    assert sorted(routed) == sorted([B0, GANTRY, B1])
    assert len(routed[B0]) == 3 and len(routed[GANTRY]) == 1 and len(routed[B1]) == 6
    assert any("portal.dcm" in x for x in left) and any("notes.txt" in x for x in left)


def test_no_b0_map_and_no_date_are_refused_with_a_sentence(gantry_series, b0_study):
    with pytest.raises(QCInputError) as e:
        b0.analyse(gantry_series[0], AnalysisContext())
    assert "B0" in e.value.message("fr")
    import io

    import pydicom

    undated = []
    for name, data in b0_study[0][:4]:
        ds = pydicom.dcmread(io.BytesIO(data))
        for tag in ("AcquisitionDate", "ContentDate", "SeriesDate", "StudyDate", "AcquisitionTime"):
            if tag in ds:
                delattr(ds, tag)
        buf = io.BytesIO()
        ds.save_as(buf)
        undated.append((name, buf.getvalue()))
    with pytest.raises(QCInputError) as e:
        b0.analyse(undated, AnalysisContext())
    assert "date" in e.value.message("fr")
    user_date = dt.datetime(2026, 11, 1, 8, 0)
    assert b0.analyse(undated, AnalysisContext(acquired_at=user_date)).acquired_at == user_date


def test_stored_settings_reach_the_analysis(store, machine):
    import json

    files, _ = S.gantry_phase_series(WHEN, seed=2, n=64, spacing_mm=7.0)
    store.set_setting("options.mr-b0-gantry", json.dumps({"gantry_angles_deg": [180 - 30 * k for k in range(13)]}), user="PH")
    a = pipeline.analyse(store, b0_gantry.SPEC, files, machine, "fr")
    assert a.result.params["angles_from"] == "option" and a.result.params["angles_deg"][0] == 180
    assert "-150°" in {m.item for m in a.result.measurements}


def test_real_diagnostic_mr_images_are_not_taken_for_mr_linac_qa_series():
    """Real Philips/Siemens QA images (../shared/data, hazen): read, listed as not used, never routed."""
    from conftest import shared_file

    files = [(p.name, p.read_bytes()) for p in sorted(shared_file("hazen", "acr", "PhilipsAchieva").iterdir())[:4]]
    files.append(("axial_oil.IMA", shared_file("hazen", "uniformity", "axial_oil.IMA").read_bytes()))
    routed, left = route(files)
    assert routed == {}
    assert left and all(isinstance(x, str) and x for x in left)
    with pytest.raises(QCInputError):
        b0.analyse(files, AnalysisContext())


def test_a_sweep_lists_each_gantry_position_once_with_angles_wrapped():
    """−179° … +181° by 30°: +181° is −179° again (one row, said to be a repeat), and no angle lies outside (−180, 180]."""
    files, _ = S.gantry_phase_series(WHEN, seed=2, n=64, spacing_mm=7.0, description="SHIM_CHECK_30_deg_fwd (start at 181)")
    r = b0_gantry.analyse(files, AnalysisContext())
    angles = [row["Angle du bras (°)"] for row in r.items]
    assert len(angles) == len(set(angles)) == 11  # 12 positions, gantry 0 (+1°) is the reference
    assert all(-180 < a <= 180 for a in angles) and 181 not in angles and -179 in angles
    assert any("mesurée deux fois" in w and "+181" in w for w in r.warnings)
    items = {m.item for m in r.measurements if m.item}
    assert "+181°" not in items and "-179°" in items
    assert -180 < r.measurement("worst_angle_deg").value <= 180
    assert b0_gantry.wrapped_deg(-180) == 180 and b0_gantry.wrapped_deg(540) == 180 and b0_gantry.wrapped_deg(181) == -179


def _background_written_as_0_hz(files):
    """The study as a console that writes 0 Hz outside the phantom (not random phase) would export it, with the
    transverse series' magnitude images left out (so its phantom is found from the map alone)."""
    import io

    import pydicom

    by_name = dict(files)
    out = []
    for name, data in files:
        if name.startswith("b0_transverse") and name.endswith("_M.dcm"):
            continue
        if name.endswith("_B0.dcm"):
            ds = pydicom.dcmread(io.BytesIO(data))
            stored = ds.pixel_array.copy()
            magnitude = pydicom.dcmread(io.BytesIO(by_name[name.replace("_B0", "_M")])).pixel_array
            stored[magnitude < 100] = round(-S.B0_INTERCEPT / S.B0_SLOPE)  # 0 Hz: no signal, no phase
            ds.PixelData = stored.astype(ds.pixel_array.dtype).tobytes()
            buf = io.BytesIO()
            ds.save_as(buf)
            data = buf.getvalue()
        out.append((name, data))
    return out


GREY, BLACK = (90, 90, 90), (0, 0, 0)


def test_b0_maps_are_grey_outside_the_phantom_on_every_orientation_and_their_titles_fit(b0_study):
    """Issue #28: outside the phantom the transverse map was coloured (0 Hz background taken for phantom when the
    map had no magnitude image) and the title ran past the tile's right edge. Every pixel outside the phantom
    (truth) is grey (or the black DSV circle) on the three drawn maps; no title pixel in the last 4 columns."""
    files, truth = b0_study
    r = b0.analyse(_background_written_as_0_hz(files), AnalysisContext())
    assert len(r.overlays) == 3
    for (title, rgb), ori in zip(r.overlays, ("transverse", "coronal", "sagittal")):
        assert ori in title
        coords = truth.coords[ori][2]  # the central slice, the one drawn
        outside = S.phantom_fraction(coords) == 0.0
        n = outside.shape[0]
        bar = 34 + 4  # the colour bar and the gap under the map
        tile = rgb[rgb.shape[0] - bar - 2 * n : rgb.shape[0] - bar, : 2 * n]
        drawn = tile[::2, ::2][outside]
        ok = np.all(drawn == GREY, axis=-1) | np.all(drawn == BLACK, axis=-1)
        assert ok.all(), (ori, int((~ok).sum()), outside.sum())
        strip = rgb[: rgb.shape[0] - bar - 2 * n]
        assert strip.shape[0] >= 17
        assert (strip[:, -4:] == 255).all(), f"{ori}: the title runs past the tile"
        assert (strip < 128).any(), f"{ori}: no title drawn"
    # the statistics stay those of the phantom (the background is left out of the mask they use)
    assert r.measurement("sd_ppm_dsv350", "transverse").value == pytest.approx(truth.stats("transverse", 350.0)["sd"], abs=0.02)


def test_a_long_caption_is_wrapped_within_its_tile():
    from qc.mr import linac_draw as draw

    caption = "bras +120°, coupe -40 mm (±0,5 ppm), cercle = DSV 350 mm, une légende bien plus longue que la tuile"
    lines = draw.caption_lines(caption, 248)
    assert len(lines) > 1 and " ".join(lines) == caption
    assert all(draw.font(13).getlength(x) <= 248 for x in lines)
    assert draw.caption_lines("x" * 200, 100) and all(draw.font(13).getlength(x) <= 100 for x in draw.caption_lines("x" * 200, 100))
