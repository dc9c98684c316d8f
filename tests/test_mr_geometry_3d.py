"""3-D geometric fidelity of the marker phantom on synthetic volumes of known distortion and set-up.

Two models. (1) Smooth 5 mm spherical markers on the Unity phantom's marker list (`marker_phantom_series`,
reduced volume 300² × 248 slices, 1.09 mm pixels, 1.5 mm slices, field of view cropping the outer markers):
every marker found, no spurious one, deviations within 0.1 mm of the truth, set-up within 0.1 mm / 0.05°.
(2) The realistic model of the real Marlin export (`unity_marker_phantom_series`: flat-topped 8 mm markers
with Gibbs ringing, foam background and air at 0, central plane 3 mm off 0, edge markers blurred, displaced
and some missing), reduced to 150 slices of 512² at the real 1.09375 × 1.09375 × 1 mm: the tests below the
second fixture fail on the analyser before issue #23 (it rejected every real-sized marker as too large).
The full-size 512² × 400 cases are in bench/bench_mr_linac.py and bench/bench_mr_geometry.py --volume-3d.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from qc import pipeline
from qc.errors import QCInputError
from qc.mr import geometry_3d as G
from qc.mr.linac_series import scan_headers
from qc.registry import AnalysisContext
from qc.synthetic import mr_linac as S

WHEN = dt.datetime(2026, 11, 20, 9, 0)


@pytest.fixture(scope="module")
def phantom():
    gen, truth = S.marker_phantom_series(WHEN, volume=S.SMALL_VOLUME, seed=41)
    files = list(gen)
    seen = []
    result = G.analyse(files, AnalysisContext(options={"progress": lambda f, text: seen.append(f)}))
    return files, truth, result, seen


def _inside(points, margin):
    v = S.SMALL_VOLUME
    half = np.array([(v.cols - 1) / 2 * v.pixel_mm, (v.rows - 1) / 2 * v.pixel_mm, (v.n_slices - 1) / 2 * v.slice_mm]) - margin
    return np.all(np.abs(points) <= half, axis=1)


def test_every_marker_is_found_and_no_spurious_one(phantom):
    files, truth, r, _ = phantom
    # expected: inside the volume by the centroid window the analyser derived from the blobs, plus a slice
    expected = _inside(truth.physical_mm, r.params["centroid_window_mm"] + 1.5)
    assert r.metrics["markers_expected"] == expected.sum() > 1000
    assert r.metrics["markers_found_pct"] == 100.0
    assert r.metrics["markers_spurious"] == 0
    # the isolated bright voxels are seen, and refused as too small for a marker
    assert len(r.params["rejected_blobs"]) == len(truth.spikes_mm)
    assert any("trop petites" in w for w in r.warnings)


def test_marker_deviations_are_within_0_1_mm_of_the_truth(phantom):
    _, truth, r, _ = phantom
    tmap = {(round(n[0]), round(n[1]), round(n[2])): d for n, d in zip(truth.nodes_mm, truth.deviation_mm)}
    errs = np.array([np.array(m["dev"]) - tmap[(round(m["lr_mm"]), round(m["ap_mm"]), round(m["plane_mm"]))] for m in r.extra["markers"]])
    assert np.linalg.norm(errs, axis=1).max() <= 0.1
    # the DSV metrics from the true deviations of the same markers
    for dsv in G.DSVS_MM:
        true = [np.linalg.norm(tmap[(round(m["lr_mm"]), round(m["ap_mm"]), round(m["plane_mm"]))]) for m in r.extra["markers"] if m["distance_mm"] <= dsv / 2]
        assert r.metrics[f"max_dev_mm_dsv{dsv:g}"] == pytest.approx(max(true), abs=0.1)
        assert r.metrics[f"p98_dev_mm_dsv{dsv:g}"] == pytest.approx(np.percentile(true, 98), abs=0.1)


def test_the_set_up_is_recovered_within_0_1_mm_and_0_05_degree(phantom):
    _, truth, r, _ = phantom
    for i, axis in enumerate(("lr", "ap", "hf")):
        assert r.metrics[f"setup_translation_{axis}_mm"] == pytest.approx(truth.translation_mm[i], abs=0.1)
        assert r.metrics[f"setup_rotation_{axis}_deg"] == pytest.approx(truth.rotation_deg[i], abs=0.05)


def test_the_session_passes_reports_progress_and_draws_the_plane_maps(phantom):
    _, _, r, seen = phantom
    assert pipeline.judge(None, G.SPEC, r, None).status == "pass"
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    title, rgb = r.overlays[0]
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.shape[0] > 300


def test_the_volume_is_kept_in_its_stored_type(phantom):
    files, *_ = phantom
    series, _ = scan_headers(files[:120])
    vol = G.read_volume(series[0].slices)
    assert vol.data.dtype == np.uint16 and vol.data.shape == (120, 300, 300)


def test_a_strongly_distorted_scanner_fails():
    vol = S.VolumeSpec(rows=200, cols=200, n_slices=248, pixel_mm=1.09, slice_mm=1.5)
    gen, truth = S.marker_phantom_series(WHEN, volume=vol, seed=5, n_spikes=0, distortion=lambda p: 25.0 * S.distortion_mm(p))
    r = G.analyse(list(gen), AnalysisContext())
    judged = pipeline.judge(None, G.SPEC, r, None)
    assert judged.status == "fail"
    assert any(j.name == "max_dev_mm_dsv200" and j.status == "fail" for j in judged.judged)


def test_the_set_up_fit_recovers_a_known_transform_and_respects_its_bounds():
    nodes = G.grid_nodes((100.0, 100.0), (0.0,))
    iso = np.zeros(3)
    R = G.rotation_matrix((1.0, -2.0, 3.0))
    measured = nodes @ R.T + np.array([2.0, -1.0, 0.5])
    fit = G.fit_setup(nodes, measured, iso)
    assert np.allclose(fit.rotation_deg, (1.0, -2.0, 3.0), atol=1e-6) and np.allclose(fit.translation_mm, (2.0, -1.0, 0.5), atol=1e-6)
    assert not fit.at_bound
    far = G.fit_setup(nodes, nodes + np.array([9.0, 0.0, 0.0]), iso)
    assert far.at_bound and far.translation_mm[0] == pytest.approx(5.0)


def test_a_volume_without_central_markers_is_refused():
    vol = S.VolumeSpec(rows=64, cols=64, n_slices=160, pixel_mm=4.0, slice_mm=1.0, semi_lr_mm=1.0, semi_ap_mm=1.0)
    gen, _ = S.marker_phantom_series(WHEN, volume=vol, seed=1, n_spikes=0)
    files = list(gen)
    # one marker per plane (at LR = AP = 0); the slices around the central plane (index 80) left out
    kept = [f for f in files if abs(int(f[0][6:10]) - 80) > 20]
    assert len(kept) >= 100
    with pytest.raises(QCInputError) as e:
        G.analyse(kept, AnalysisContext())
    assert e.value.key == "mrl.err.no_central_markers"


# ---------------------------------------------------------------- the realistic model of the real Unity export
# What a real Marlin 3-D FFE volume shows (issue #23): flat-topped markers ≈ 8 mm wide with Gibbs ringing
# inside the plateau, foam background ≈ 9 (SD ≈ 4) and exactly 0 outside, the phantom's marker list (flat
# table side), the central plane imaged ≈ 3 mm off 0, edge markers blurred, displaced and a few missing.
# The reduced volume keeps the real pixels, slices and 512² field of view, with 150 slices (3 planes).


@pytest.fixture(scope="module")
def unity():
    gen, truth = S.unity_marker_phantom_series(WHEN, volume=S.UNITY_SMALL_VOLUME, seed=7)
    files = list(gen)
    return files, truth, G.analyse(files, AnalysisContext())


def _imaged(truth, margin_mm=10.0):
    """The markers whose plane lies inside the reduced volume (HF ±74.5 mm) by `margin_mm`."""
    v = S.UNITY_SMALL_VOLUME
    return np.abs(truth.physical_mm[:, 2] - v.centre_hf_mm) <= (v.n_slices - 1) / 2 * v.slice_mm - margin_mm


def _true_dev(truth):
    return {(round(n[0]), round(n[1]), round(n[2])): d for n, d in zip(truth.nodes_mm, truth.deviation_mm)}


def test_real_like_markers_are_found_once_each(unity):
    _, truth, r = unity
    imaged = _imaged(truth)
    assert r.metrics["markers_expected"] == imaged.sum() == 3 * 276
    # every marker that is imaged is found, none twice, nothing else taken for a marker
    assert len(r.extra["markers"]) == (imaged & truth.present).sum()
    assert r.metrics["markers_spurious"] == 0
    assert r.params["rejected_blobs"] == []


def test_real_like_deviations_match_the_truth(unity):
    _, truth, r = unity
    tmap = _true_dev(truth)
    errs = np.array([np.linalg.norm(np.array(m["dev"]) - tmap[(round(m["lr_mm"]), round(m["ap_mm"]), round(m["plane_mm"]))]) for m in r.extra["markers"] if m["distance_mm"] <= 200])
    assert errs.max() <= 0.1
    # the metrics against the truth of every imaged marker (not only those found)
    sel = _imaged(truth) & truth.present
    dist = np.linalg.norm(truth.physical_mm, axis=1)
    mag = np.linalg.norm(truth.deviation_mm, axis=1)
    assert r.metrics["max_dev_mm_dsv200"] == pytest.approx(mag[sel & (dist <= 100)].max(), abs=0.1)
    assert r.metrics["p98_dev_mm_dsv400"] == pytest.approx(np.percentile(mag[sel & (dist <= 200)], 98), abs=0.1)
    assert r.metrics["n_markers_dsv400"] == (sel & (dist <= 200)).sum()


def test_real_like_set_up_and_the_central_plane_off_0_are_recovered(unity):
    _, truth, r = unity
    for i, axis in enumerate(("lr", "ap", "hf")):
        assert r.metrics[f"setup_translation_{axis}_mm"] == pytest.approx(truth.translation_mm[i], abs=0.1)
        assert r.metrics[f"setup_rotation_{axis}_deg"] == pytest.approx(truth.rotation_deg[i], abs=0.05)
    # the three planes imaged at −58, −3, +52 mm and named after the nominal −55, 0, +55
    assert r.params["planes_nominal_hf_mm"] == [-55.0, 0.0, 55.0]
    assert r.params["planes_measured_hf_mm"] == pytest.approx(list(truth.plane_hf_mm[2:5]), abs=0.3)
    assert abs(r.params["planes_measured_hf_mm"][1]) > 2.5


def test_real_like_missing_edge_markers_are_said(unity):
    _, truth, r = unity
    gone = _imaged(truth) & ~truth.present
    assert gone.sum() >= 5 and np.all(truth.edge[gone])
    text = next(w for w in r.warnings if "non trouvés" in w)
    assert text.startswith(f"{gone.sum()} marqueurs attendus non trouvés")
    for x, y, z in truth.nodes_mm[gone][:12]:
        assert f"({x:+.0f}, {y:+.0f}, {z:+.0f})" in text
    assert r.metrics["markers_found_pct"] == pytest.approx(100.0 * (1 - gone.sum() / _imaged(truth).sum()))


def test_real_like_noise_free_background_outside_does_not_break_the_threshold(unity):
    _, _, r = unity
    # background and noise from the foam (the air is exactly 0), threshold far below the ringing plateau
    assert r.params["background"] == pytest.approx(9.0, abs=1.5)
    assert r.params["noise_sd"] == pytest.approx(4.0, abs=1.0)
    assert 40.0 < r.params["threshold"] < 120.0


def test_the_phantom_marker_list_is_the_published_one():
    nodes = G.phantom_marker_nodes()
    assert len(nodes) == 7 * 276
    plane = nodes[nodes[:, 2] == 0.0]
    assert plane[:, 0].min() == -250.0 and plane[:, 0].max() == 250.0
    assert plane[:, 1].min() == -250.0 and plane[:, 1].max() == 125.0  # flat table side at AP +125 mm
    assert {tuple(p) for p in plane[plane[:, 0] == 250.0][:, :2]} == {(250.0, y) for y in (-50.0, -25.0, 0.0, 25.0, 50.0)}


def test_a_bright_object_along_the_whole_volume_is_listed_and_the_markers_still_found(unity):
    """Something bright that is not a marker (here a 7 mm rod along HF through every slice, between the
    markers near the table side) is one large blob, listed and not used; labelling stays in bounded slabs."""
    import io

    import pydicom

    files, truth, clean = unity
    rodded = []
    for name, data in files:
        ds = pydicom.dcmread(io.BytesIO(data))
        a = ds.pixel_array.copy()
        c, r = (np.array([-238.0, 137.0]) - np.array(ds.ImagePositionPatient[:2], float)) / float(ds.PixelSpacing[0])
        a[int(r) - 3 : int(r) + 3, int(c) - 3 : int(c) + 3] = 1200  # stored (×0.5): 600, brighter than any marker
        ds.PixelData = a.tobytes()
        buf = io.BytesIO()
        ds.save_as(buf)
        rodded.append((name, buf.getvalue()))
    r = G.analyse(rodded, AnalysisContext())
    assert [b["why"] for b in r.params["rejected_blobs"]] == ["large"]
    assert len(r.extra["markers"]) == len(clean.extra["markers"])
    assert r.metrics["max_dev_mm_dsv200"] == pytest.approx(clean.metrics["max_dev_mm_dsv200"], abs=0.01)


def test_long_slabs_are_cut_at_their_emptiest_slice():
    counts = np.array([5] * 40 + [0, 1, 0] + [7] * 40 + [3] * 50)
    cut = G._bounded([(0, len(counts))], counts, 64)
    assert cut[0] == (0, 40) and all(b - a <= 64 for a, b in cut)
    assert [a for a, _ in cut[1:]] == [b for _, b in cut[:-1]] and cut[-1][1] == len(counts)
