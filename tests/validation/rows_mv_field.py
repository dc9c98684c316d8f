"""Validation rows of MVIC-Champ (qc.mv.field) on the two real open fields of ../shared/data (TrueBeam, pylinac's files).

Peers: the values pylinac's own tests assert (MANIFEST.md / expected_values.json, pylinac@011e6f4e94d1
tests_basic/test_field_analysis.py), and pylinac 3.49.0 `FieldAnalysis` run on the same files in the bench venv
(`bench/bench_field.py`; defaults = inflection-derivative edges, and `Edge.FWHM` for its 20/80 % of the grounded
maximum, the flattened-beam penumbra). Ours is analysed with pylinac's axis, the imager centre, given as the
calibration (these machines have no Unity calibration).
"""

from __future__ import annotations

import functools

from tests.validation.table import Row, shared_path

TITLE = "MV field (MVIC-Champ) — TrueBeam open fields vs pylinac"

NOTES = """\
- Both files are flattened 6 MV TrueBeam beams. Ours detects that from the central profiles (NCS-33 unflatness
  1.00 / 0.99 on `flatsym_demo`, 1.02 / 1.02 on `6x auto bulb 2`, below the FFF threshold 1.05) and reads the penumbra
  as 20–80 % of each profile's own height (maximum over the field above its ground), the definition of pylinac's
  20/80 on a flat beam. Ours is the median over 30 band profiles along the central 60 % of each side; pylinac reads one
  central single-pixel profile. Before this change ours used the FFF definition (20/50–80/50 of the inflection
  height) on these beams and read 0.15–0.7 mm narrower than pylinac.
- pylinac 3.49's default penumbra (inflection-derivative edges) scales 20/80 by its inflection height / maximum ×
  1/50, as our FFF definition does; on `flatsym_demo`'s horned top its top-edge inflection sits above 50 % of the
  maximum, so its 80 % level climbs the shoulder: 3.46 mm there against 2.96 mm for its own 20/80 of the maximum.
  The rows compare ours with pylinac's 20/80 (`Edge.FWHM`), the same definition: within 0.04 mm on `6x auto bulb 2`,
  0.02–0.10 mm on `flatsym_demo`. The levels are read on the unsmoothed band means: reading them on the 1-px
  smoothed profiles (as the FFF definition does) widened `flatsym_demo`'s penumbrae by 0.14–0.18 mm (+0.18 to +0.24
  against pylinac), the same in the central bands as in the median.
- The MANIFEST penumbrae come from an older pylinac (011e6f4e94d1, inflection-scaled): `flatsym_demo` top 3.9 mm
  is 0.7 mm above ours and 0.45 above pylinac 3.49's own inflection-scaled value on the same file; pinned, see the row.
- `6x auto bulb 2.dcm` carries its jaws in the header (ASYMX/ASYMY ±50.0 mm): ours judges it against 100 × 100 mm
  (size errors −0.58 / −0.61 mm). Before, with no Unity field within 10 mm, it was judged against its own rounded size
  «99x99» (+0.42 mm, a size error that could never exceed 0.5 mm). `flatsym_demo.dcm` has no jaws in its header and
  is no known field: its size error is Non mesuré.
- Flatness and symmetry: ours reports the NCS-33 FFF constancy quantities (judged against a stored baseline), not
  Varian's flatness / point-difference symmetry, so pylinac's 1.7 / 1.85 % and −2.6 / −3.0 % have no row here.
"""

OPEN_FIELD = "pylinac/open_field"
MANIFEST = "pylinac test assertion (MANIFEST, pylinac@011e6f4e94d1)"
PYL = "pylinac 3.49.0 FieldAnalysis (run, default inflection-derivative edges)"
PYL_2080 = "pylinac 3.49.0 FieldAnalysis (run, Edge.FWHM: 20/80 % of the grounded maximum)"

# MANIFEST (asserted) and pylinac 3.49 runs; vertical = rows (y), horizontal = columns (x); top = Y1 (−v)
ASSERTED = {
    "flatsym_demo.dcm": dict(y=200.2, x=141.0, top=99.8, bottom=100.5, left=60.4, right=80.5,
                             pen_top=3.9, pen_bottom=2.8, pen_left=2.7, pen_right=3.0),
    "6x auto bulb 2.dcm": dict(y=99.5, x=99.5, top=49.9, bottom=49.6, left=49.2, right=50.3,
                               pen_top=3.0, pen_bottom=3.0, pen_left=2.8, pen_right=2.5),
}
RUN_349 = {
    "flatsym_demo.dcm": dict(y=200.072, x=140.703, top=99.736, bottom=100.336, left=60.251, right=80.452),
    "6x auto bulb 2.dcm": dict(y=99.308, x=99.408, top=49.804, bottom=49.504, left=49.204, right=50.204),
}
RUN_349_2080 = {
    "flatsym_demo.dcm": dict(pen_top=2.963, pen_bottom=2.615, pen_left=2.501, pen_right=2.691),
    "6x auto bulb 2.dcm": dict(pen_top=2.936, pen_bottom=2.923, pen_left=2.667, pen_right=2.626),
}
SIDE_OF = {"top": "y1", "bottom": "y2", "left": "x1", "right": "x2"}


@functools.cache
def _item(name: str) -> dict:
    """Our item row for one file, analysed once with the imager centre as the axis (pylinac's)."""
    import pydicom

    from qc.mv import field as F
    from qc.registry import AnalysisContext, Calibration

    path = shared_path(f"{OPEN_FIELD}/{name}")
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    centre = Calibration((ds.Columns - 1) / 2, (ds.Rows - 1) / 2, "2000-01-01", 1)
    result = F.analyse([(name, path.read_bytes())], AnalysisContext(cax_for=lambda _d: centre, lang="en"))
    return result.items[0]


def _ours(name: str, key: str):
    def measure() -> float | None:
        it = _item(name)
        if key in ("x", "y"):
            return it[f"field_size_{key}_mm"]
        if key.startswith("pen_"):
            return it[f"penumbra_{SIDE_OF[key[4:]]}_mm"]
        if key.startswith("err_"):
            return it[f"field_size_error_{key[4:]}_mm"]
        v = it[f"edge_{SIDE_OF[key]}_mm"]
        return None if v is None else abs(v)  # pylinac's CAX-to-edge distances are positive

    return measure


def _quantity(key: str) -> tuple[str, str]:
    if key in ("x", "y"):
        return ("field size horizontal (X)" if key == "x" else "field size vertical (Y)"), "mm"
    if key.startswith("pen_"):
        return f"penumbra {key[4:]} (flattened beam: 20–80 %)", "mm"
    return f"CAX to {key} edge", "mm"


WHY = {
    "size_asserted": "pylinac's test delta is 1 mm; the app claims 0.5 mm (1.3 px at 0.39 mm, 1.5 px at 0.34 mm)",
    "size_run": "same edge definition (inflection point): 0.3 mm, under a pixel",
    "edge": "pylinac's own test delta for CAX-to-edge distances",
    "pen": "pylinac's own test delta for penumbrae (its older, inflection-scaled values)",
    "pen_run": "same definition (20/80 % of the grounded maximum): 0.4 px; ours a median over 30 band means, pylinac one central profile",
}

ROWS: list[Row] = []
for _name in ("flatsym_demo.dcm", "6x auto bulb 2.dcm"):
    _file = f"{OPEN_FIELD}/{_name}"
    for _key, _value in ASSERTED[_name].items():
        _q, _unit = _quantity(_key)
        if _name == "flatsym_demo.dcm" and _key == "pen_top":
            ROWS.append(Row(
                _file, _q + " vs MANIFEST", _unit, MANIFEST, _value, 0.3, WHY["pen"], _ours(_name, _key),
                note="The older pylinac's inflection-scaled penumbra (80/50 of an inflection height above 50 % of the "
                     "maximum on this horned top climbs the shoulder); pylinac 3.49 reads 3.46 with that definition and "
                     "2.96 with 20/80 of the maximum, ours 3.06. Ours is nearer the 20/80 definition the beam calls for.",
                differs=True, expected=3.06, expected_tol=0.1,
            ))
            continue
        kind = "size_asserted" if _key in ("x", "y") else ("pen" if _key.startswith("pen_") else "edge")
        margin = 0.5 if kind == "size_asserted" else 0.3
        ROWS.append(Row(_file, _q + " vs MANIFEST", _unit, MANIFEST, _value, margin, WHY[kind], _ours(_name, _key)))
    for _key, _value in RUN_349[_name].items():
        _q, _unit = _quantity(_key)
        kind = "size_run" if _key in ("x", "y") else "edge"
        ROWS.append(Row(_file, _q + " vs pylinac 3.49", _unit, PYL, _value, 0.3, WHY[kind], _ours(_name, _key)))
    for _key, _value in RUN_349_2080[_name].items():
        _q, _unit = _quantity(_key)
        ROWS.append(Row(_file, _q + " vs pylinac 3.49 20/80", _unit, PYL_2080, _value, 0.15, WHY["pen_run"], _ours(_name, _key)))

# The 10 × 10 cm field judged against its header's 100 mm (never its own rounded 99 mm)
for _axis, _pyl_size in (("x", 99.408), ("y", 99.308)):
    ROWS.append(Row(
        f"{OPEN_FIELD}/6x auto bulb 2.dcm", f"field size error {_axis.upper()} vs the header's 100 mm", "mm",
        "pylinac 3.49 size (run) − the header's jaws (ASYMX/ASYMY ±50 mm)", round(_pyl_size - 100.0, 3), 0.3,
        "as the size rows: same edge definition; the nominal is the header's, not a measurement", _ours("6x auto bulb 2.dcm", f"err_{_axis}"),
    ))
