"""Demo inputs for the "try with a demo image" buttons: which synthetic generator makes each test's input.

The demo knows the generators; the analysers do not (they never import `qc.synthetic`). One line per
test in `DEMO_INPUTS`.
"""

from __future__ import annotations

import datetime as dt
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


def mr_linac_demo(test_key: str) -> Callable[[], list[tuple[str, bytes]]]:
    """The synthetic series of one MR-Linac MRI QA test (qc.synthetic.mr_linac), acquired now."""

    def make() -> list[tuple[str, bytes]]:
        from qc.synthetic import demo_moment
        from qc.synthetic import mr_linac

        now, seed = demo_moment()
        if test_key == "mr-b0":
            return mr_linac.b0_map_study(now, seed=seed)[0]
        if test_key == "mr-b0-gantry":
            return mr_linac.gantry_phase_series(now, seed=seed)[0]
        if test_key == "mr-b1":
            return mr_linac.b1_study(now, seed=seed)[0]
        files, _ = mr_linac.marker_phantom_series(now, volume=mr_linac.SMALL_VOLUME, seed=seed)
        return list(files)

    return make


def _mr_demo(maker_name: str) -> Callable[[], list[tuple[str, bytes]]]:
    """A flood-phantom demo of qc.synthetic.mr, acquired now."""

    def make() -> list[tuple[str, bytes]]:
        from qc.synthetic import demo_moment
        from qc.synthetic import mr

        now, seed = demo_moment()
        return getattr(mr, maker_name)(now, seed=seed)

    return make

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


DEMO_INPUTS: dict[str, Callable[[], list[tuple[str, bytes]]]] = {
    "field": field_demo,
    "leaves": leaves_demo,
    "slits": slits_demo,
    "wl": wl_demo,
    "piqt": piqt_demo,
    **{k: mr_linac_demo(k) for k in ("mr-b0", "mr-b0-gantry", "mr-b1", "mr-geometry-3d")},
    "mr-snr": _mr_demo("demo_snr"),
    "mr-uniformity": _mr_demo("demo_uniformity"),
    "mr-ghosting": _mr_demo("demo_ghosting"),
    "mr-slice-thickness": mr_slice_thickness_demo,
    "mr-geometry": mr_geometry_demo,
    "mr-resolution": mr_resolution_demo,
    "mr-acr": mr_acr_demo,
}


def demo_inputs_for(test_key: str) -> Callable[[], list[tuple[str, bytes]]] | None:
    """The demo-input maker of a test, or None when the test has none (the button is then disabled)."""
    return DEMO_INPUTS.get(test_key)
