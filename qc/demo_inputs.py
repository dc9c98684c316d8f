"""Demo inputs for the "try with a demo image" buttons and the demo database: which synthetic generator makes each
test's input.

Each analyser module names its demo input (`DEMO_INPUT = "module:function"`, a zero-argument function returning
the (name, bytes) inputs, acquired now); `demo_inputs_for(key)` resolves that name, so no list of tests lives here.
The demo knows the generators; the analysers do not (they never import `qc.synthetic`, they only name a function).
The functions below are the adapters of the first tests (a generator whose arguments differ); a new test may name a
function of its own synthetic module directly. The second part holds the demo database's generators, named the same
way by each analyser module's `DEMO` (`qc.spec.DemoSessions.make`) and called with a recipe's arguments.
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Callable


def field_demo() -> list[tuple[str, bytes]]:
    """The 5-image demo session (qc.synthetic.field.demo_session), acquired now."""
    from qc.synthetic import demo_moment
    from qc.synthetic.field import demo_session

    now, seed = demo_moment()
    return demo_session(now, rng_seed=seed)


def slits_demo() -> list[tuple[str, bytes]]:
    """One slit image with the default plan (qc.synthetic.mlc), acquired now."""
    from qc.synthetic import demo_moment
    from qc.synthetic.mlc import demo_session_slits

    now, seed = demo_moment()
    return demo_session_slits(now, seed=seed)


def leaves_demo() -> list[tuple[str, bytes]]:
    """A 6-image AQUA session (qc.synthetic.mlc), acquired now."""
    from qc.synthetic import demo_moment
    from qc.synthetic.mlc import demo_session_leaves

    now, seed = demo_moment()
    return demo_session_leaves(now, seed=seed)


def wl_demo() -> list[tuple[str, bytes]]:
    """An 8-angle Unity Winston-Lutz session (qc.synthetic.wl), acquired now."""
    from qc.synthetic import demo_moment
    from qc.synthetic.wl import demo_session

    now, seed = demo_moment()
    return demo_session(now, rng_seed=seed)


def piqt_demo() -> list[tuple[str, bytes]]:
    """One synthetic weekly report (with one value outside its criterion) for the demo button."""
    from qc.synthetic.piqt import demo_report

    when = dt.datetime.now().replace(second=0, microsecond=0)
    return [(f"PIQT_{when:%Y%m%d}.htm", demo_report(when, seed=7))]


def mr_linac_files(test_key: str, at, seed: int) -> list[tuple[str, bytes]]:
    """The synthetic series of one MR-Linac MRI QA test (qc.synthetic.mr_linac) acquired at `at`: the demo button's
    and the demo database's (qc.demo), the same bytes for the same date and seed."""
    from qc.synthetic import mr_linac

    if test_key == "mr-b0":
        return mr_linac.b0_map_study(at, seed=seed)[0]
    if test_key == "mr-b0-gantry":
        return mr_linac.gantry_phase_series(at, seed=seed)[0]
    if test_key == "mr-b1":
        return mr_linac.b1_study(at, seed=seed)[0]
    files, _ = mr_linac.marker_phantom_series(at, volume=mr_linac.SMALL_VOLUME, seed=seed)
    return list(files)


def _mr_linac_session(test_key: str) -> list[tuple[str, bytes]]:
    """The synthetic series of one MR-Linac MRI QA test, acquired now."""
    from qc.synthetic import demo_moment

    now, seed = demo_moment()
    return mr_linac_files(test_key, now, seed)


def mr_b0_demo() -> list[tuple[str, bytes]]:
    """Philips B0 maps of the three orientations (qc.synthetic.mr_linac), acquired now."""
    return _mr_linac_session("mr-b0")


def mr_b0_gantry_demo() -> list[tuple[str, bytes]]:
    """Phase series at several gantry angles (qc.synthetic.mr_linac), acquired now."""
    return _mr_linac_session("mr-b0-gantry")


def mr_b1_demo() -> list[tuple[str, bytes]]:
    """A B1 map study (qc.synthetic.mr_linac), acquired now."""
    return _mr_linac_session("mr-b1")


def mr_geometry_3d_demo() -> list[tuple[str, bytes]]:
    """A small marker-phantom volume (qc.synthetic.mr_linac), acquired now."""
    return _mr_linac_session("mr-geometry-3d")


def _flood_demo(maker_name: str) -> list[tuple[str, bytes]]:
    """A flood-phantom demo of qc.synthetic.mr, acquired now."""
    from qc.synthetic import demo_moment
    from qc.synthetic import mr

    now, seed = demo_moment()
    return getattr(mr, maker_name)(now, seed=seed)


def mr_snr_demo() -> list[tuple[str, bytes]]:
    """Flood-phantom images for the SNR (qc.synthetic.mr.demo_snr), acquired now."""
    return _flood_demo("demo_snr")


def mr_uniformity_demo() -> list[tuple[str, bytes]]:
    """A flood-phantom image for the uniformity (qc.synthetic.mr.demo_uniformity), acquired now."""
    return _flood_demo("demo_uniformity")


def mr_ghosting_demo() -> list[tuple[str, bytes]]:
    """A flood-phantom image with a ghost (qc.synthetic.mr.demo_ghosting), acquired now."""
    return _flood_demo("demo_ghosting")


def mr_slice_thickness_demo() -> list[tuple[str, bytes]]:
    """A MagNET-like slice-width image, 5.3 mm true thickness for a 5 mm nominal, acquired now (qc.synthetic.mr_phantoms)."""
    from qc.synthetic import demo_moment
    from qc.synthetic.mr_phantoms import magnet_dicom

    now, seed = demo_moment()
    data, _truth = magnet_dicom(5.3, tilt_deg=1.5, nominal_mm=5.0, when=now, seed=seed)
    return [("magnet_slice_width.dcm", data)]


def mr_geometry_demo() -> list[tuple[str, bytes]]:
    """A MagNET-like rod grid with a 0.4 % gradient scale error along x, acquired now."""
    from qc.synthetic import demo_moment
    from qc.synthetic.mr_phantoms import magnet_dicom

    now, seed = demo_moment()
    data, _truth = magnet_dicom(5.0, rod_scale=(1.004, 0.999), when=now, seed=seed)
    return [("magnet_geometry.dcm", data)]


def mr_resolution_demo() -> list[tuple[str, bytes]]:
    """A square block turned by 10° in a fluid disc, blurred to an effective resolution of about 1.1 pixel, acquired now."""
    from qc.synthetic import demo_moment
    from qc.synthetic.mr_phantoms import edge_dicom

    now, seed = demo_moment()
    data, _truth = edge_dicom(sigma_mm=0.42, when=now, seed=seed)
    return [("resolution_edge.dcm", data)]


def mr_acr_demo() -> list[tuple[str, bytes]]:
    """An 11-slice ACR-like axial series (5.2 mm thickness, 190 × 189 mm, a faint ghost), acquired now."""
    from qc.synthetic import demo_moment
    from qc.synthetic.mr_phantoms import acr_series

    now, _seed = demo_moment()
    # A fixed noise draw: at 0.98 mm pixels the 1.0 mm top-bottom hole array sits at the resolution limit and, as on
    # a real 256² ACR series, reads 1.0 or 1.1 mm with the noise (4 draws in 12 fail); the demo shows a passing week.
    files, _truth = acr_series(thickness_mm=5.2, diameter_mm=(190.0, 189.0), ghost_fraction=0.005, when=now, seed=0)
    return files


# ---------------------------------------------------------------- the demo database's generators
# Named by the analyser modules' `DEMO` declarations (`qc.spec.DemoSessions.make`) and called by `qc.demo` with a
# recipe's arguments: the same bytes for the same arguments (the UIDs come from `qc.synthetic.reproducible_uids`).


def _at(when: str) -> dt.datetime:
    return dt.datetime.fromisoformat(when)


def field_session(when: str, seed: int, drift_mm: float, centre_x_mm: float, centre_y_mm: float) -> list[tuple[str, bytes]]:
    """A 5-image MVIC-Champ session whose fields are `drift_mm` too large and off centre by (x, y) mm."""
    from qc.synthetic.field import demo_session

    return demo_session(_at(when), rng_seed=seed, size_drift_mm=drift_mm, centre_drift_mm=(centre_x_mm, centre_y_mm))


def leaves_session(when: str, seed: int, staircase: bool) -> list[tuple[str, bytes]]:
    """A 6-image AQUA session, with the AQUA error plan (5/10/15 mm blocks) when `staircase`."""
    from qc.synthetic.mlc import demo_session_leaves

    return demo_session_leaves(_at(when), seed=seed, errors="staircase" if staircase else None)


def slits_session(when: str, seed: int, pair45_b_mm: float) -> list[tuple[str, bytes]]:
    """One slit image, leaf pair 45 bank B off by `pair45_b_mm`."""
    from qc.synthetic.mlc import demo_session_slits

    return demo_session_slits(_at(when), seed=seed, errors={(45, "B"): pair45_b_mm} if pair45_b_mm else None)


def piqt_session(day: str, seed: int) -> list[tuple[str, bytes]]:
    """The weekly PIQT report of `day`."""
    from qc.synthetic.piqt import weekly_reports

    return [weekly_reports(dt.date.fromisoformat(day), 1, seed)[0]]


def wl_session(when: str, seed: int, bb_offset_mm: list[float]) -> list[tuple[str, bytes]]:
    """An 8-angle Unity Winston-Lutz session, the ball off the isocentre by `bb_offset_mm` (x, y, z)."""
    from qc.synthetic.wl import unity_session

    files, _ = unity_session([0, 45, 90, 135, 180, 225, 270, 315], tuple(bb_offset_mm), acquired_at=_at(when), seed=seed)
    return files


def mr_flood_session(when: str, seed: int, kind: str) -> list[tuple[str, bytes]]:
    """Flood-phantom images for `kind` "snr", "uniformity" or "ghosting" (qc.synthetic.mr)."""
    from qc.synthetic import mr

    return getattr(mr, {"snr": "demo_snr", "uniformity": "demo_uniformity", "ghosting": "demo_ghosting"}[kind])(_at(when), seed=seed)


def mr_slice_thickness_session(when: str, seed: int, thickness_mm: float) -> list[tuple[str, bytes]]:
    """A MagNET-like slice-width image of true thickness `thickness_mm` for a 5 mm nominal."""
    from qc.synthetic.mr_phantoms import magnet_dicom

    data, _ = magnet_dicom(thickness_mm, tilt_deg=1.5, nominal_mm=5.0, when=_at(when), seed=seed)
    return [("magnet_slice_width.dcm", data)]


def mr_geometry_session(when: str, seed: int, scale_x: float, scale_y: float) -> list[tuple[str, bytes]]:
    """A MagNET-like rod grid with gradient scale errors (x, y)."""
    from qc.synthetic.mr_phantoms import magnet_dicom

    data, _ = magnet_dicom(5.0, rod_scale=(scale_x, scale_y), when=_at(when), seed=seed)
    return [("magnet_geometry.dcm", data)]


def mr_resolution_session(when: str, seed: int, sigma_mm: float) -> list[tuple[str, bytes]]:
    """A square block in a fluid disc blurred by `sigma_mm`."""
    from qc.synthetic.mr_phantoms import edge_dicom

    data, _ = edge_dicom(sigma_mm=sigma_mm, when=_at(when), seed=seed)
    return [("resolution_edge.dcm", data)]


def mr_acr_session(when: str, seed: int, thickness_mm: float) -> list[tuple[str, bytes]]:
    """An 11-slice ACR-like axial series (190 × 189 mm, a faint ghost) of slice thickness `thickness_mm`."""
    from qc.synthetic.mr_phantoms import acr_series

    files, _ = acr_series(thickness_mm=thickness_mm, diameter_mm=(190.0, 189.0), ghost_fraction=0.005, when=_at(when), seed=seed)
    return files


def mr_linac_session(when: str, seed: int, kind: str) -> list[tuple[str, bytes]]:
    """The MR-Linac MRI QA series of `kind` "b0", "b0-gantry", "b1" or "geometry-3d"."""
    return mr_linac_files(f"mr-{kind}", _at(when), seed)


def demo_inputs_for(test_key: str) -> Callable[[], list[tuple[str, bytes]]] | None:
    """The demo-input maker the test's module names (`DEMO_INPUT`), or None when the test has none (a logged test;
    the button is then disabled). Imports that test's module only."""
    from qc.registry import demo_input_ref

    ref = demo_input_ref(test_key)
    if ref is None:
        return None
    module_name, _, function = ref.partition(":")
    return getattr(importlib.import_module(module_name), function)
