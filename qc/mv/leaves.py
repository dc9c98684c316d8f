"""Position des lames: leaf-end positions on the AQUA "MLC exactitude" gaps, and picket fences.

Owns the weekly "Position des lames" analyser (test key "leaves", domain.md §5). Each RT Image of
the session is measured by the shared MLC engine (`qc.mv.mlc.measure_mlc_image`), which finds the
leaf travel direction, the leaf pairs (from the inter-leaf pattern) and the bright bands of each pair.
One engine, two readings, chosen per image from the bands found (`qc.mv.mlc.measure_mlc_image`): one
opening wider than 12 mm = a gap image, two or more openings or narrower bands = a picket fence:
- **Gap images** (one wide band per pair, the AQUA plan: 20 mm gaps at [−40,−20] … [+20,+40] mm
  along v): each edge is one leaf tip. Measured tip (mm from the calibrated CAX along the leaf
  travel) − nominal tip = the leaf's **error** (absolute; needs the CAX calibration). The tip is at
  50 % between the leaf-blocked level and the local open-field level at its position (the FFF dome
  normalised out; each bank's own penumbra in the edge model: `GAP_TIP_DEFINITION`, its bias against
  50 % of the gap maximum and the inflection in tests/validation/rows_mv_leaves.py). The image is
  matched to a nominal gap by plan order (a full session, default) or by its detected position
  (`match_nominals`). The **relative error**
  is the distance to the straight line fitted through that edge across the pairs (pylinac).
- **Picket-fence / slit images** (two or more narrow bands per pair; e.g. other linacs' picket
  fences): each band's FWHM centre is one leaf-pair "kiss"; its error is the distance to the
  picket's fitted line (pylinac's definition: relative only, no nominal). Pairs not seen in every
  picket are listed as not measured (pylinac drops them).

Conventions (assumptions, domain.md §13 Q5; configurable through `ctx.options`):
- Positions along the leaf travel are + towards increasing row index v (down the displayed
  image); across, + towards increasing u.
- Bank A = the bank whose tips form the low-v (top) edges of the gaps, bank B the high-v edges
  (`bank_a_side="+"` swaps them).
- Pair numbering (Unity, pitch 7.175 mm found in the image): the inter-leaf junction nearest the
  CAX is 40|41, pair 1 on the −u side (`pair1_side="+"` reverses); other MLCs: image order.
Options: `preset` ("aqua"), `nominal_gaps_mm` [(lo, hi), ...], `match_nominal` ("auto", "position" or
"order"), `leaf_pitch_mm` (7.175), `mode` ("auto", "gap", "picket"), `combine_pickets` ("auto", "all",
"never") and `combine_method` ("max", "mean"). No threshold is an option: each
leaf is judged by the dated tolerance of `leaf_position_error_mm` in force on the acquisition date.

A picket fence delivered in several images (pylinac `PicketFence.from_multiple_images`, e.g. a jaw
image and an MLC image that each show part of the pickets) is analysed as one fence (`join_picket_parts`):
picket images of the same imager grid, gantry and collimator angles (header) and leaf travel, whose
pickets run the same direction (line angles within 1°) and share a picket position, are combined when
one shows pairs or pickets the other lacks (`completes`); each is stretched to its low/high levels and
their pixel-wise maximum measured (`combine_picket_parts`), with a sentence naming the files. A part the engine refuses alone (too few pairs) is joined to its fence when the
combination gains pairs (`join_unmeasurable_part`). Repeats, other gantry angles and other geometries stay
separate fences; the pairs measured in the parts stay expected in the combination (Non mesuré if lost).

Beam axis (`measure_beam_axis`): the six AQUA gaps are symmetric about the axis, so the mean of the
gap centres locates it along the leaves, and the 40|41 junction of the inter-leaf pattern across.
Reported as `beam_axis_shift_u_mm`/`_v_mm` (measured − calibration in force). Without a calibration
in force the absolute positions are taken from that measured axis (said in a warning and in
`params`), never from the imager centre; the shifts are then not measurable (Non mesuré).
Plan fit (`fit_plan`): measured = scale · planned + axis over the median ends, reported beside the
judged errors (`plan_fit_*`), never used to correct them. A failing leaf stores the profile it was read
on (`_profile` in its item row) for the page's chart.
Nothing vanishes: every pair expected in an image (measured in at least one image of the same kind)
has a row; one that could not be measured has status `not_measured` and counts in
`n_leaf_pairs_not_measured`.
Plotting helpers for the page are kept at the end of the module.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qc.errors import QCInputError
from qc.i18n import t
from qc.readers.dicom_io import session_identity
from qc.mv import mlc
from qc.mv.common import PreparedImage, calibration_warnings, item_tolerance, measurement, prepare_images, rounded, session_date, tolerance_record
from qc.tolerances import FAIL, JUDGED_BY, WARNING, Tolerance
from qc.spec import AnalysisContext, DemoSessions, MetricSpec, Routing, TestSpec
from qc.results import AnalysisResult, Measurement

KEY = "leaves"
PRESETS: dict[str, tuple[tuple[float, float], ...]] = {
    # AQUA "MLC exactitude" on the Unity: 20 mm gaps along v from the CAX (domain.md §0.5, §5)
    "aqua": ((-40.0, -20.0), (-30.0, -10.0), (-20.0, 0.0), (0.0, 20.0), (10.0, 30.0), (20.0, 40.0)),
}
GAP_TIP_DEFINITION = (
    "gaps: each leaf end at 50 % between the leaf-blocked level beside it and the local open-field level at the end's position "
    "(the gap's plateau line, i.e. the FFF dome normalised out), the plateau estimated through each bank's own erf penumbra "
    "(rounded ends widen off axis); tips of that erf edge model through the two crossings (qc.mv.mlc.refine_gap_edges)"
)
MATCH_LIMIT_MM = 6.0  # mean |edge − nominal| above this: the image matches no nominal gap


def nominal_gaps(ctx: AnalysisContext) -> list[tuple[float, float]]:
    """The nominal gaps in force: `nominal_gaps_mm` if given, else the preset (default "aqua")."""
    given = ctx.options.get("nominal_gaps_mm")
    if given:
        return [(float(a), float(b)) for a, b in given]
    return list(PRESETS.get(str(ctx.options.get("preset", "aqua")), PRESETS["aqua"]))


def gap_label(lo: float, hi: float) -> str:
    return f"[{lo:+g}, {hi:+g}]"


def match_nominals(
    measured: list[tuple[float, float]], nominals: list[tuple[float, float]], by: str = "position"
) -> list[int | None]:
    """Index of the nominal gap of each gap image (None: none within `MATCH_LIMIT_MM`).

    "position": the nominal with the smallest mean |edge − nominal| of the image's median edges.
    "order": the i-th image (acquisition order) gets the i-th nominal (only when the counts agree;
    else by position).
    "auto" (default): by order when the counts agree and the images' detected centres rank as the
    nominal centres do (a full session in plan order), else by position. By position alone, a CAX
    wrong by a multiple of the 10 mm plan step would match images to the wrong gaps with small
    errors; by order the wrong CAX shows as large errors.
    """
    if by == "auto":
        same_count = len(measured) == len(nominals) and len(measured) > 1
        ranks_agree = same_count and list(np.argsort([lo + hi for lo, hi in measured], kind="stable")) == list(
            np.argsort([a + b for a, b in nominals], kind="stable")
        )
        by = "order" if ranks_agree else "position"
    if by == "order" and len(measured) == len(nominals):
        return list(range(len(measured)))
    out: list[int | None] = []
    for lo, hi in measured:
        costs = [(abs(lo - a) + abs(hi - b)) / 2 for a, b in nominals]
        k = int(np.argmin(costs)) if costs else -1
        out.append(k if k >= 0 and costs[k] <= MATCH_LIMIT_MM else None)
    return out


NOT_MEASURED = "not_measured"  # item status of a leaf or pair that could not be measured (counts as a failure)


@dataclass
class LeafImage:
    """One image of the session measured by the MLC engine (positions in mm from the axis pixel used).

    A picket fence delivered in several images is one LeafImage whose `prepared` holds the combined
    image and `parts` the images it was made of (`combine_picket_parts`)."""

    index: int  # 1-based, acquisition order
    prepared: PreparedImage
    mlc: mlc.MLCImage
    parts: list[PreparedImage] = field(default_factory=list)
    part_pairs_mm: np.ndarray = field(default_factory=lambda: np.empty(0))  # across: the pairs measured in the parts

    @property
    def files(self) -> list[PreparedImage]:
        """The session's images behind this one (itself, or the parts it combines)."""
        return self.parts or [self.prepared]

    @property
    def filename(self) -> str:
        return self.prepared.filename

    @property
    def mode(self) -> str:
        return self.mlc.mode

    def median_edges_mm(self) -> tuple[float, float]:
        """Median low-t and high-t edges of the first opening over the pairs (a gap image's position)."""
        return float(np.nanmedian(self.mlc.lo_mm[:, 0])), float(np.nanmedian(self.mlc.hi_mm[:, 0]))

    def junction_offset_mm(self) -> float | None:
        """Across the leaves: position of the 40|41 junction (the leaf-pair boundary nearest the axis
        pixel used) in mm from that pixel; None when the pairs were not found as a Unity pattern."""
        pairs = self.mlc.pairs
        if pairs.numbering != "unity" or pairs.source != "image" or len(pairs.boundaries_px) == 0:
            return None
        b = np.asarray(pairs.boundaries_px, float)
        j = int(np.argmin(np.abs(b - self.mlc.p0_px)))
        return float((b[j] - self.mlc.p0_px) * self.mlc.px_p_mm)


def leaf_end_penumbra(li: LeafImage, bank_a_low: bool) -> dict[str, float | None]:
    """{"A": mm, "B": mm}: the 20–80 % penumbra of each bank's leaf ends in a gap image (median over the
    widest pairs; None when the gap model was not applied)."""
    lo, hi = li.mlc.penumbra_mm[0] if li.mlc.penumbra_mm else (float("nan"), float("nan"))
    a, b = (lo, hi) if bank_a_low else (hi, lo)
    return {"A": rounded(a, 2), "B": rounded(b, 2)}


def measure_leaf_image(p: PreparedImage, index: int, ctx: AnalysisContext) -> LeafImage:
    """The MLC engine on one image with the session's options (pitch, numbering side, mode)."""
    pitch = float(ctx.options.get("leaf_pitch_mm", mlc.UNITY_LEAF_PITCH_MM))
    pair1_low = str(ctx.options.get("pair1_side", "-")) != "+"
    m = mlc.measure_mlc_image(p.image, p.cax, ctx.lang, pitch, pair1_low, str(ctx.options.get("mode", "auto")))
    return LeafImage(index, p, m)


ANGLE_MATCH_DEG = 1.0  # parts of one picket fence: gantry and collimator angles equal within this
PICKET_MATCH_MM = 2.0  # a picket of one part and one of another are the same picket within this (median centres)
MIN_NEW_PAIRS = 3  # a part completes another when it shows at least this many pairs the other lacks (or a picket)


def _header_angle(p: PreparedImage, keyword: str) -> float | None:
    """Gantry or collimator angle (degrees) from the image header; None when absent."""
    if keyword == "GantryAngle":
        return p.image.gantry_angle_deg
    ds = p.image.dataset
    try:
        return float(ds.get(keyword)) if ds is not None and ds.get(keyword) is not None else None
    except (TypeError, ValueError):
        return None


def _angle_equal(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d) <= ANGLE_MATCH_DEG


def same_header_geometry(a: PreparedImage, b: PreparedImage) -> bool:
    """Same imager grid (shape, pixel size at isocentre) and same gantry and collimator angles (header,
    within `ANGLE_MATCH_DEG`; an angle absent from both headers counts as equal)."""
    ia, ib = a.image, b.image
    return (
        ia.shape == ib.shape
        and np.allclose(ia.pixel_size_iso_mm, ib.pixel_size_iso_mm, rtol=1e-3)
        and all(_angle_equal(_header_angle(a, k), _header_angle(b, k)) for k in ("GantryAngle", "BeamLimitingDeviceAngle"))
    )


def same_delivery_geometry(a: LeafImage, b: LeafImage) -> bool:
    """Two picket images of one delivery geometry: `same_header_geometry` and the same leaf travel direction."""
    return same_header_geometry(a.prepared, b.prepared) and a.mlc.travel_axis == b.mlc.travel_axis


def _coverage(li: LeafImage) -> tuple[np.ndarray, np.ndarray]:
    """(positions across of the pairs measured in at least one picket, median centre of each picket), mm."""
    m = li.mlc
    seen = np.isfinite(m.centre_mm).any(axis=1)
    centres = np.array([np.nanmedian(m.centre_mm[:, j]) for j in range(m.n_groups) if np.isfinite(m.centre_mm[:, j]).any()])
    return m.p_mm[seen], centres


def picket_angle_deg(li: LeafImage) -> float | None:
    """Median over the pickets of the angle of the picket's line (atan of position along the travel vs
    position across, `mlc.relative_errors`), degrees; None without a picket of 3 pairs."""
    m = li.mlc
    angles = []
    for j in range(m.n_groups):
        _, line = mlc.relative_errors(m.p_mm, m.centre_mm[:, j])
        if line is not None:
            angles.append(np.degrees(np.arctan(line[1])))
    return float(np.median(angles)) if angles else None


def completes(a: LeafImage, b: LeafImage) -> bool:
    """True when `b` shows part of `a`'s picket fence that `a` lacks: pickets of the same direction (median
    picket line angles within `ANGLE_MATCH_DEG`: slits at other collimator angles, e.g. a starshot set
    whose headers carry no angle, are not one fence), at least one picket in common (same median centre
    within `PICKET_MATCH_MM`), and either `MIN_NEW_PAIRS` pairs measured in `b` and not in `a` (farther
    than half a leaf pitch from every pair of `a`) or a picket of `b` that `a` does not have."""
    pa, ca = _coverage(a)
    pb, cb = _coverage(b)
    if not len(ca) or not len(cb):
        return False
    ang_a, ang_b = picket_angle_deg(a), picket_angle_deg(b)
    if ang_a is None or ang_b is None or abs(ang_a - ang_b) > ANGLE_MATCH_DEG:
        return False
    near = np.abs(cb[:, None] - ca[None, :]).min(axis=1) <= PICKET_MATCH_MM
    if not near.any():
        return False
    half_pitch = 0.5 * a.mlc.pairs.pitch_mm
    new_pairs = int(np.sum(np.abs(pb[:, None] - pa[None, :]).min(axis=1) > half_pitch)) if len(pa) else len(pb)
    return new_pairs >= MIN_NEW_PAIRS or not near.all()


def picket_part_groups(pickets: list[LeafImage], how: str = "auto") -> list[list[LeafImage]]:
    """The session's picket images grouped into picket fences (each group: one fence, in acquisition order).

    `how` "auto": images of the same delivery geometry (`same_delivery_geometry`) are one fence when one
    completes another (`completes`: the complementary parts of a fence, e.g. a jaw image and an MLC
    image); two full fences of one geometry (a repeat) or of different gantry angles stay apart.
    "all": every picket image of the session is one fence; "never": each image is its own fence."""
    if how == "never" or len(pickets) < 2:
        return [[li] for li in pickets]
    if how == "all":
        return [list(pickets)]
    groups: list[list[LeafImage]] = []
    for li in pickets:
        for g in groups:
            if all(same_delivery_geometry(li, o) for o in g) and any(completes(o, li) or completes(li, o) for o in g):
                g.append(li)
                break
        else:
            groups.append([li])
    return groups


def combine_picket_parts(group: list[LeafImage], ctx: AnalysisContext) -> LeafImage:
    """One picket fence measured on the combination of its parts (`mlc.combined_signal`: each image
    stretched to its own low/high levels, then their pixel-wise maximum, or their mean with option
    `combine_method="mean"`, as pylinac `PicketFence.from_multiple_images`). The axis pixel, header and
    geometry are those of the first part (same geometry, checked). The pairs measured in the parts stay
    expected in the combination (`_expected_pairs`): a pair lost by combining is Non mesuré, not dropped."""
    first = group[0].prepared
    names = " + ".join(li.filename for li in group)
    image = dataclasses.replace(
        first.image,
        signal=mlc.combined_signal([li.prepared.image.signal for li in group], str(ctx.options.get("combine_method", "max"))),
        file=dataclasses.replace(first.image.file, filename=names, data=None),
        warnings=[],
    )
    prepared = dataclasses.replace(first, image=image, warnings=[w for li in group for w in li.prepared.warnings])
    combined = measure_leaf_image(prepared, group[0].index, ctx)
    part_pairs = np.concatenate([_coverage(li)[0] for li in group] + [li.part_pairs_mm for li in group])
    return LeafImage(group[0].index, prepared, combined.mlc, parts=[p for li in group for p in li.files], part_pairs_mm=part_pairs)


@dataclass
class BeamAxis:
    """The beam axis located from the session's own plan, in mm from the axis pixel used.

    Along the leaf travel (t): the mean over the matched gap images of (measured gap centre −
    nominal gap centre), the AQUA gaps being placed symmetrically about the axis; across (p): the
    median position of the 40|41 junction, which lies on the axis by design. `u_px`/`v_px`: the
    measured axis as an imager pixel.
    """

    shift_t_mm: float | None
    shift_p_mm: float | None
    shift_u_mm: float | None
    shift_v_mm: float | None
    u_px: float | None
    v_px: float | None
    n_gap_images: int


def measure_beam_axis(gaps: list[LeafImage], matches: list[int | None], nominals: list[tuple[float, float]]) -> BeamAxis:
    """Locate the beam axis from the matched gap images (see `BeamAxis`)."""
    centre_shifts = []
    for li, k in zip(gaps, matches):
        if k is None:
            continue
        c = (li.mlc.lo_mm[:, 0] + li.mlc.hi_mm[:, 0]) / 2
        if np.isfinite(c).any():
            centre_shifts.append(float(np.nanmedian(c)) - (nominals[k][0] + nominals[k][1]) / 2)
    junctions = [j for j in (li.junction_offset_mm() for li in gaps) if j is not None]
    st = float(np.mean(centre_shifts)) if centre_shifts else None
    sp = float(np.median(junctions)) if junctions else None
    if not gaps:
        return BeamAxis(None, None, None, None, None, None, 0)
    ref = gaps[0].mlc
    along_v = ref.travel_axis == 0
    su, sv = (sp, st) if along_v else (st, sp)
    row_mm, col_mm = ref.px_t_mm if along_v else ref.px_p_mm, ref.px_p_mm if along_v else ref.px_t_mm
    u_px = None if su is None else ref.cax.u0 + su / col_mm
    v_px = None if sv is None else ref.cax.v0 + sv / row_mm
    return BeamAxis(st, sp, su, sv, u_px, v_px, len(centre_shifts))


@dataclass
class PlanFit:
    """Measured leaf ends vs planned ends along the leaf travel: measured = scale · planned + axis.

    Least squares over the median end of each bank in each matched gap image (the six AQUA gaps:
    12 ends at −40 … +40 mm), positions from the reference axis. A scale ≠ 1 is a magnification
    (SID/SAD) error, the axis the beam axis along the leaves; the residuals show what a linear
    geometry does not explain (e.g. only the outermost gaps off). Reported beside the judged
    errors, never used to correct them."""

    scale: float | None
    axis_mm: float | None
    max_residual_mm: float | None
    n_ends: int


def fit_plan(gaps: list[LeafImage], matches: list[int | None], nominals: list[tuple[float, float]], ref_t: float | None) -> PlanFit:
    """The plan fit (`PlanFit`); None values when no reference axis or fewer than 3 distinct planned ends."""
    x, y = [], []
    for li, k in zip(gaps, matches):
        if k is None or ref_t is None:
            continue
        for col, nominal in ((li.mlc.lo_mm[:, 0], nominals[k][0]), (li.mlc.hi_mm[:, 0], nominals[k][1])):
            if np.isfinite(col).any():
                x.append(nominal)
                y.append(float(np.nanmedian(col)) - ref_t)
    if len(set(x)) < 3:
        return PlanFit(None, None, None, len(x))
    scale, axis = np.polyfit(np.asarray(x), np.asarray(y), 1)
    resid = np.asarray(y) - (scale * np.asarray(x) + axis)
    return PlanFit(float(scale), float(axis), float(np.max(np.abs(resid))), len(x))


# Each leaf row is judged by the pipeline with the dated tolerance of `leaf_position_error_mm` (qc.tolerances.judge_items).
LEAF_JUDGED_BY = {"metric": "leaf_position_error_mm", "value": "error_mm"}


def _beyond_action_limits(value: float | None, tol: Tolerance | None) -> bool:
    """Whether a leaf's error lies past the action limits of the per-leaf tolerance: only to choose which leaves'
    profiles are kept for drawing (the leaf's verdict is the pipeline's, from the same tolerance)."""
    if value is None or not np.isfinite(value) or tol is None:
        return False
    lo, _tl, _th, hi = tol.bounds_for(0.0)
    return bool((lo is not None and value < lo) or (hi is not None and value > hi))


def _expected_pairs(images: list[LeafImage]) -> list[int]:
    """Pairs expected in every image of a kind: those measured in at least one of them (or in a part of it)."""
    seen: set[int] = set()
    for li in images:
        ok = np.any(np.isfinite(li.mlc.lo_mm) | np.isfinite(li.mlc.hi_mm), axis=1)
        if len(li.part_pairs_mm):  # a combined fence: also the pairs its parts showed
            ok |= np.abs(li.mlc.p_mm[:, None] - li.part_pairs_mm[None, :]).min(axis=1) <= 0.5 * li.mlc.pairs.pitch_mm
        seen.update(int(p) for p, o in zip(li.mlc.pairs.numbers, ok) if o)
    return sorted(seen)


Points = list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # (position, pair position, error) per edge/picket, for the overlay
PROFILE_HALF_WINDOW_MM = 12.0  # a failing leaf's stored profile spans ±12 mm around its measured end
PROFILE_STEP_PX = 2  # every 2nd pixel (0.43 mm at the Unity isocentre): enough to draw, small to store


def leaf_profile(m: mlc.MLCImage, i: int, tip_mm: float, ref_t: float) -> dict[str, list[float]] | None:
    """The profile the leaf end was read on (mean over the central 40 % of pair row `i`), ±12 mm around
    the measured end: positions in mm from the reference axis, signal divided by the gap's local open
    level (`MLCImage.peak`), so the physicist sees the penumbra, the plateau and where the end was put."""
    if m.profiles is None or not np.isfinite(tip_mm) or not np.isfinite(m.peak[i, 0]) or m.peak[i, 0] <= 0:
        return None
    t_mm = (np.arange(m.profiles.shape[1]) - m.t0_px) * m.px_t_mm - ref_t
    near = np.nonzero(np.abs(t_mm - (tip_mm - ref_t)) <= PROFILE_HALF_WINDOW_MM)[0][::PROFILE_STEP_PX]
    if len(near) < 3:
        return None
    return {"t_mm": [round(float(x), 3) for x in t_mm[near]],
            "signal_rel": [round(float(v), 4) for v in m.profiles[i, near] / m.peak[i, 0]]}


def gap_rows(
    li: LeafImage, nom: tuple[float, float] | None, label: str, ref_t: float | None, pairs: list[int], tol: Tolerance | None, bank_a_low: bool
) -> tuple[list[dict[str, Any]], Points]:
    """One row per expected pair and bank of a gap image: its tip (mm from the reference axis: the
    calibration, or the axis measured from the plan), error to the nominal tip, error to the fitted line,
    gap width and status. `ref_t` None: no reference axis, no absolute error (not measured)."""
    m = li.mlc
    row_of = {int(p): i for i, p in enumerate(m.pairs.numbers)}
    rows: list[dict[str, Any]] = []
    pts: Points = []
    for j in range(m.n_groups):
        lo, hi = m.lo_mm[:, j], m.hi_mm[:, j]
        for edge, pos, nominal in (("lo", lo, nom[0] if nom else None), ("hi", hi, nom[1] if nom else None)):
            rel, _ = mlc.relative_errors(m.p_mm, pos)
            bank = ("A" if edge == "lo" else "B") if bank_a_low else ("B" if edge == "lo" else "A")
            err = pos - ref_t - nominal if (nominal is not None and ref_t is not None) else np.full_like(pos, np.nan)
            pts.append((pos, m.p_mm, np.where(np.isfinite(err), err, rel)))
            for pair in pairs:
                i = row_of.get(pair)
                ok = i is not None and bool(np.isfinite(pos[i]))
                gap_w = float(hi[i] - lo[i]) if i is not None else float("nan")
                e = float(err[i]) if ok else None
                rows.append({
                    "image": li.index, "file": li.filename, "kind": "gap", "position": label, "pair": pair, "bank": bank, "picket": None,
                    "p_mm": rounded(m.p_mm[i]) if i is not None else None,
                    "measured_mm": rounded(pos[i] - (ref_t or 0.0)) if ok else None, "nominal_mm": nominal,
                    "error_mm": rounded(e), "relative_error_mm": rounded(rel[i]) if ok else None,
                    "gap_mm": rounded(gap_w), "gap_error_mm": rounded(gap_w - (nom[1] - nom[0])) if nom else None,
                    "out_of_tolerance": None, JUDGED_BY: LEAF_JUDGED_BY,
                })
                if _beyond_action_limits(e, tol) and ok and ref_t is not None:
                    # the data to draw this leaf's profile on the page, stored with the result ("_": not a table column)
                    rows[-1]["_profile"] = leaf_profile(m, i, float(pos[i]), ref_t)
    return rows, pts


def picket_rows(li: LeafImage, pairs: list[int], tol: Tolerance | None) -> tuple[list[dict[str, Any]], Points]:
    """One row per expected pair and picket: the FWHM centre and its error to the picket's fitted line
    (pylinac's reading); a pair not seen in every picket is listed as not measured, not dropped."""
    m = li.mlc
    row_of = {int(p): i for i, p in enumerate(m.pairs.numbers)}
    full = np.all(np.isfinite(m.centre_mm), axis=1)
    rows: list[dict[str, Any]] = []
    pts: Points = []
    for j in range(m.n_groups):
        pos = np.where(full, m.centre_mm[:, j], np.nan)
        rel, _ = mlc.relative_errors(m.p_mm, pos)
        pts.append((pos, m.p_mm, rel))
        for pair in pairs:
            i = row_of.get(pair)
            ok = i is not None and bool(np.isfinite(pos[i])) and bool(np.isfinite(rel[i]))
            e = float(rel[i]) if ok else None
            rows.append({
                "image": li.index, "file": li.filename, "kind": "picket", "position": f"picket {j + 1}", "pair": pair, "bank": "",
                "picket": j + 1, "p_mm": rounded(m.p_mm[i]) if i is not None else None, "measured_mm": rounded(pos[i]) if ok else None,
                "nominal_mm": None, "error_mm": rounded(e), "relative_error_mm": rounded(e),
                "gap_mm": rounded(m.width_mm[i, j]) if ok else None, "gap_error_mm": None,
                "out_of_tolerance": None, JUDGED_BY: LEAF_JUDGED_BY,
            })
    return rows, pts


def analyse(inputs: list[tuple[str, bytes]], ctx: AnalysisContext) -> AnalysisResult:
    """Analyse a 'Position des lames' session: each image measured, then the session summarised."""
    prepared = prepare_images(inputs, ctx, SPEC_NAME, "mlc.warn.gantry")
    measured: list[LeafImage] = []
    unmeasurable: list[tuple[PreparedImage, int, QCInputError]] = []
    for i, p in enumerate(prepared, start=1):
        try:
            measured.append(measure_leaf_image(p, i, ctx))
        except QCInputError as exc:  # perhaps a small part of a fence delivered in several images
            unmeasurable.append((p, i, exc))
    for p, i, exc in unmeasurable:
        measured = join_unmeasurable_part(p, i, exc, measured, ctx)
    return summarise_session(join_picket_parts(measured, ctx), ctx, session_date(prepared, ctx))


def join_unmeasurable_part(p: PreparedImage, index: int, error: QCInputError, measured: list[LeafImage], ctx: AnalysisContext) -> list[LeafImage]:
    """An image the engine refused alone (e.g. a jaw part whose pickets cross too few pairs) joined to the
    first picket image of the same header geometry, when their combination shows at least `MIN_NEW_PAIRS`
    more pairs than that image alone; otherwise the image's own error is raised (nothing is dropped)."""
    for k, li in enumerate(measured):
        if li.mode == "gap" or li.parts or not same_header_geometry(p, li.prepared):
            continue
        part = LeafImage(index, p, _empty_like(li.mlc))  # the refused image, with no pair measured alone
        try:
            joined = combine_picket_parts(sorted([li, part], key=lambda x: x.index), ctx)
        except QCInputError:
            continue
        n_alone = int(np.isfinite(li.mlc.centre_mm).any(axis=1).sum())
        if int(np.isfinite(joined.mlc.centre_mm).any(axis=1).sum()) >= n_alone + MIN_NEW_PAIRS:
            return measured[:k] + [joined] + measured[k + 1 :]
    raise error


def _empty_like(m: mlc.MLCImage) -> mlc.MLCImage:
    """The MLC measurement of an image with no band measured (same pairs and geometry as `m`)."""
    nan = np.full_like(m.lo_mm, np.nan)
    return dataclasses.replace(m, lo_mm=nan, hi_mm=nan.copy(), peak=nan.copy(), warnings=[])


def join_picket_parts(measured: list[LeafImage], ctx: AnalysisContext) -> list[LeafImage]:
    """The session's images with each picket fence delivered in several images replaced by their
    combination (`picket_part_groups`, option `combine_pickets`: "auto", "all" or "never"), at the place of
    its first part; images renumbered 1, 2, ... in that order."""
    how = str(ctx.options.get("combine_pickets", "auto"))
    groups = picket_part_groups([li for li in measured if li.mode != "gap"], how)
    first_of = {id(g[0]): g for g in groups if len(g) > 1}
    joined_away = {id(li) for g in first_of.values() for li in g[1:]}
    out: list[LeafImage] = []
    for li in measured:
        if id(li) in joined_away:
            continue
        out.append(combine_picket_parts(first_of[id(li)], ctx) if id(li) in first_of else li)
    return [dataclasses.replace(li, index=k) for k, li in enumerate(out, start=1)]


def summarise_session(measured: list[LeafImage], ctx: AnalysisContext, when) -> AnalysisResult:
    """Nominal matching, the beam axis, every leaf's row and status, and the session's metrics."""
    lang = ctx.lang
    bank_a_low = str(ctx.options.get("bank_a_side", "-")) != "+"
    pair1_low = str(ctx.options.get("pair1_side", "-")) != "+"
    nominals = nominal_gaps(ctx)
    leaf_tol = item_tolerance(ctx, SPEC_METRICS["leaf_position_error_mm"], when)
    scale_mm = float((leaf_tol.act_high or leaf_tol.tol_high or 1.0) if leaf_tol is not None else 1.0)
    warnings: list[str] = [w for li in measured for w in li.prepared.warnings + li.mlc.warnings]
    # a calibration that does not fit an image, or the date without a calibration (and the one that exists)
    warnings += calibration_warnings([p for li in measured for p in li.files])

    # nominal matching of the gap images
    gaps = [li for li in measured if li.mode == "gap"]
    pickets = [li for li in measured if li.mode != "gap"]
    med_edges = [li.median_edges_mm() for li in gaps]
    by = str(ctx.options.get("match_nominal", "auto"))
    if by == "order" and len(gaps) != len(nominals):
        warnings.append(t("mlc.warn.nominal_count", lang, n_images=len(gaps), n_nominal=len(nominals)))
    matches = match_nominals(med_edges, nominals, by)
    used: dict[int, list[str]] = {}
    for li, k, (lo, hi) in zip(gaps, matches, med_edges):
        if k is None:
            warnings.append(t("mlc.warn.no_nominal", lang, file=li.filename, lo=lo, hi=hi))
        else:
            used.setdefault(k, []).append(li.filename)
    for k, files in used.items():
        if len(files) > 1:
            warnings.append(t("mlc.warn.nominal_reused", lang, nominal=gap_label(*nominals[k]), files=", ".join(files)))

    # the beam axis, and the reference of the absolute positions
    axis = measure_beam_axis(gaps, matches, nominals)
    calibrated = bool(gaps) and all(li.prepared.calibrated for li in gaps)
    if calibrated:
        ref_t = 0.0  # positions stay relative to the calibrated axis
        reference = "calibration"
    elif axis.shift_t_mm is not None:
        ref_t = axis.shift_t_mm  # no calibration in force: the axis measured from the plan
        reference = "measured axis"
        warnings.append(t("leaves.warn.axis_from_plan", lang, u=f"{axis.u_px:.1f}" if axis.u_px is not None else "?",
                          v=f"{axis.v_px:.1f}" if axis.v_px is not None else "?"))
    else:
        ref_t = None  # neither: no absolute position can be judged
        reference = "none"
        if gaps:
            warnings.append(t("leaves.warn.no_axis", lang))

    items: list[dict[str, Any]] = []
    overlays: list[tuple[str, np.ndarray]] = []
    match_of = {id(li): k for li, k in zip(gaps, matches)}
    edges_of = {id(li): e for li, e in zip(gaps, med_edges)}
    gap_pairs, picket_pairs = _expected_pairs(gaps), _expected_pairs(pickets)
    n_pickets = 0
    for li in measured:
        if li.mode == "gap":
            k = match_of.get(id(li))
            nom = nominals[k] if k is not None else None
            label = gap_label(*nom) if nom else gap_label(*edges_of[id(li)])
            rows, pts = gap_rows(li, nom, label, ref_t, gap_pairs, leaf_tol, bank_a_low)
        else:
            if li.parts:
                warnings.append(t("mlc.warn.pickets_combined", lang, n=len(li.parts), files=li.filename, n_pickets=li.mlc.n_groups))
            warnings.append(t("mlc.warn.picket_mode", lang, file=li.filename, n=li.mlc.n_groups))
            n_pickets += li.mlc.n_groups
            rows, pts = picket_rows(li, picket_pairs, leaf_tol)
        items += rows
        overlays.append((t("mlc.overlay.title", lang, label=f"{li.index}", file=li.filename), mlc.overlay_rgb(li.prepared.image, li.mlc, pts, scale_mm=scale_mm)))

    not_measured = sorted({(it["image"], it["pair"]) for it in items if it["error_mm"] is None})
    by_image: dict[int, list[int]] = {}
    for img, pair in not_measured:
        by_image.setdefault(img, []).append(pair)
    for img, pairs in by_image.items():
        warnings.append(t("mlc.warn.pairs_not_measured", lang, file=measured[img - 1].filename, n=len(pairs),
                          pairs=", ".join(map(str, pairs))))

    plan = fit_plan(gaps, matches, nominals, ref_t)
    measurements = session_metrics(items, axis, calibrated, bool(gaps), bool(pickets), sum(len(li.files) for li in measured), n_pickets, len(not_measured), lang, plan)
    return AnalysisResult(
        test=KEY,
        measurements=measurements,
        items=items,
        warnings=warnings,
        **session_identity([p.image for li in measured for p in li.files]),
        overlays=overlays,
        extra={  # the charts' error table is built from the rows once the pipeline has judged them (errors_frame)
            "images": [
                {"image": li.index, "file": li.filename, "mode": li.mode, "n_bands": li.mlc.n_groups, "pitch_mm": round(li.mlc.pairs.pitch_mm, 4),
                 "pairs_from": li.mlc.pairs.source, "numbering": li.mlc.pairs.numbering, "leaf_travel": "v" if li.mlc.travel_axis == 0 else "u"}
                for li in measured
            ],
        },
        params={
            "edge_definition": mlc.EDGE_DEFINITION,
            "gap_tip_definition": GAP_TIP_DEFINITION,
            "plan_fit_definition": "measured = scale · planned + axis, least squares over the median end of each bank in each matched gap "
            "image (mm from the reference axis along the leaf travel); reported beside the judged errors, never used to correct them",
            "picket_definition": "centre of the FWHM at 50 % between the band peak and the local background; error = distance to the picket's fitted line (pylinac)",
            "relative_error_definition": "distance to the least-squares line (position vs pair position) of that edge/picket, 3.5 MAD outlier rejection, floor 0.5 mm",
            "position_convention": "mm at isocentre from the beam axis along the leaf travel, + towards increasing v (rows) or u",
            "position_reference": {
                "calibration": "the beam-axis calibration in force on the acquisition date",
                "measured axis": "no calibration in force: the beam axis measured from this session's plan (mean of the gap centres along the leaves, 40|41 junction across); the imager centre is never used",
                "none": "no calibration in force and no gap image matched to the plan: no absolute position judged",
            }[reference],
            "beam_axis_definition": "along the leaves: mean over the gap images of (median gap centre − nominal centre), the AQUA gaps being symmetric "
            "about the axis; across: the 40|41 leaf-pair junction found in the inter-leaf pattern; shift = measured − calibration in force",
            "beam_axis_px": {"u": rounded(axis.u_px, 2), "v": rounded(axis.v_px, 2)},
            "bank_convention": f"bank A = {'low' if bank_a_low else 'high'}-v edges of the gaps (assumption)",
            "pair_convention": f"Unity: junction nearest the beam axis = 40|41, pair 1 on the {'-' if pair1_low else '+'}u side (assumption); other MLCs: image order",
            "leaf_width_ratio": mlc.LEAF_WIDTH_RATIO,
            # each gap image's leaf-end penumbra (20–80 %, mm) per bank, as used in the edge model: the ±40 mm ends
            # wider than the others is what shifted the outermost gaps outward with one penumbra per image
            "leaf_end_penumbra_20_80_mm": {li.filename: leaf_end_penumbra(li, bank_a_low) for li in gaps},
            "leaf_tolerance": tolerance_record(leaf_tol),
            "leaf_tolerance_mm": scale_mm,
            "nominal_gaps_mm": [list(g) for g in nominals],
            "preset": ctx.options.get("preset", "aqua") if not ctx.options.get("nominal_gaps_mm") else None,
            "match_nominal": by,
            "cax": {li.filename: li.prepared.cax_record() for li in measured},
        },
    )


def session_metrics(
    items: list[dict[str, Any]], axis: BeamAxis, calibrated: bool, has_gaps: bool, has_pickets: bool,
    n_images: int, n_pickets: int, n_not_measured: int, lang: str, plan: PlanFit | None = None,
) -> list[Measurement]:
    """The session's metrics from its leaf rows. Gap-plan metrics (absolute errors, banks, gap widths,
    beam axis) exist when the session holds gap images: then a value that could not be measured is
    None and fails. A pure picket-fence session has relative errors only."""
    errs = np.array([it["error_mm"] for it in items if it["kind"] == "gap" and it["error_mm"] is not None], dtype=float)
    rels = np.array([it["relative_error_mm"] for it in items if it["relative_error_mm"] is not None], dtype=float)
    bank_a = [it["error_mm"] for it in items if it["bank"] == "A" and it["error_mm"] is not None]
    bank_b = [it["error_mm"] for it in items if it["bank"] == "B" and it["error_mm"] is not None]
    gap_errs = [abs(it["gap_error_mm"]) for it in items if it["gap_error_mm"] is not None and it["bank"] == "A"]
    out: list[Measurement] = []

    def metric(name: str, value: float | None) -> None:
        out.append(measurement(SPEC_METRICS[name], value, lang))

    if has_gaps:
        metric("max_abs_error_mm", float(np.max(np.abs(errs))) if len(errs) else None)
        metric("mean_error_bank_a_mm", float(np.mean(bank_a)) if bank_a else None)
        metric("mean_error_bank_b_mm", float(np.mean(bank_b)) if bank_b else None)
        metric("sd_error_mm", float(np.std(errs, ddof=1)) if len(errs) > 1 else None)
        metric("max_abs_gap_error_mm", max(gap_errs) if gap_errs else None)
        # measured − calibration in force: not measurable without a calibration (Non mesuré)
        metric("beam_axis_shift_u_mm", axis.shift_u_mm if calibrated else None)
        metric("beam_axis_shift_v_mm", axis.shift_v_mm if calibrated else None)
        metric("beam_axis_u_px", axis.u_px)
        metric("beam_axis_v_px", axis.v_px)
        # the plan's geometry fitted from the gaps (informative, beside the judged errors; never a correction)
        plan = plan or PlanFit(None, None, None, 0)
        metric("plan_fit_scale_error_pct", (plan.scale - 1.0) * 100.0 if plan.scale is not None else None)
        metric("plan_fit_axis_mm", plan.axis_mm)
        metric("plan_fit_max_residual_mm", plan.max_residual_mm)
    metric("n_leaf_pairs_not_measured", float(n_not_measured))
    metric("max_abs_relative_error_mm", float(np.max(np.abs(rels))) if len(rels) else None)
    metric("median_abs_relative_error_mm", float(np.median(np.abs(rels))) if len(rels) else None)
    metric("n_leaf_pairs", float(len({it["pair"] for it in items if it["measured_mm"] is not None})))
    metric("n_images", float(n_images))
    metric("n_pickets", float(n_pickets))
    return out


def errors_frame(items: list[dict[str, Any]]):
    """The heat-map table (image, position, pair, bank, error_mm, relative_error_mm, status) from item rows;
    pickets have their picket label as "bank"."""
    import pandas as pd

    cols = ["image", "position", "pair", "bank", "error_mm", "relative_error_mm", "status"]
    return pd.DataFrame(
        [{"image": it["image"], "position": it["position"], "pair": it["pair"], "bank": it["bank"] or it["position"],
          "error_mm": it["error_mm"], "relative_error_mm": it["relative_error_mm"],
          "status": it.get("status") or (NOT_MEASURED if it.get("measured_mm") is None else "")} for it in items],
        columns=cols,
    )


def worst_leaves(result: AnalysisResult, n: int = 10) -> list[dict[str, Any]]:
    """The `n` item rows with the largest |error| (absolute, else relative)."""
    def key(it):
        e = it.get("error_mm")
        return -abs(e) if e is not None else 0.0

    return sorted((it for it in result.items if it.get("error_mm") is not None), key=key)[:n]



# ---------------------------------------------------------------- spec

SPEC_NAME = {"fr": "Position des lames", "en": "Leaf position"}
REF = "Département ±1 mm ; AAPM TG-142 1 mm ; Unity ≤ 1 mm (PMC8504604)"
_METRICS = (
    MetricSpec("max_abs_error_mm", "mm", "Écart max. |position − nominal|", "Max |position − nominal|",
               Tolerance.at_most(0.75, 1.0, reference=f"{REF}; alerte à 0,75 mm"), better="lower"),
    MetricSpec("mean_error_bank_a_mm", "mm", "Écart moyen banc A", "Mean error bank A",
               Tolerance(act_low=-1.0, tol_low=-0.5, tol_high=0.5, act_high=1.0, reference=f"{REF}; décalage d'étalonnage, alerte 0,5 mm (proposé)")),
    MetricSpec("mean_error_bank_b_mm", "mm", "Écart moyen banc B", "Mean error bank B",
               Tolerance(act_low=-1.0, tol_low=-0.5, tol_high=0.5, act_high=1.0, reference=f"{REF}; décalage d'étalonnage, alerte 0,5 mm (proposé)")),
    MetricSpec("sd_error_mm", "mm", "Écart-type des écarts", "SD of errors",
               Tolerance.at_most(0.5, 1.0, reference="Proposé (pas de limite publiée)"), better="lower"),
    MetricSpec("n_leaves_out_of_tolerance", "", "Lames hors tolérance", "Leaves out of tolerance",
               Tolerance.at_most(0.0, 0.0, reference=REF), better="lower", counts_items=("leaf_position_error_mm", FAIL)),
    MetricSpec("n_leaves_in_alert", "", "Lames en alerte", "Leaves in alert",
               Tolerance(tol_high=0.0, reference=REF), better="lower", counts_items=("leaf_position_error_mm", WARNING)),
    MetricSpec("n_leaf_pairs_not_measured", "", "Paires de lames non mesurées", "Leaf pairs not measured",
               Tolerance.at_most(0.0, 0.0, reference="Une paire attendue doit être mesurée (procédure du département)"), better="lower"),
    MetricSpec("leaf_position_error_mm", "mm", "Écart de position d'une lame", "Error of one leaf",
               Tolerance.symmetric(0.75, 1.0, reference=f"{REF}; alerte à 0,75 mm"), trend=False),
    MetricSpec("beam_axis_shift_u_mm", "mm", "Décalage de l'axe faisceau U (mesuré − étalonnage)", "Beam-axis shift U (measured − calibration)",
               Tolerance.symmetric(0.5, 1.0, reference="Proposé : ±0,5 mm (alerte), 1 mm (action, une lame décalée d'autant)")),
    MetricSpec("beam_axis_shift_v_mm", "mm", "Décalage de l'axe faisceau V (mesuré − étalonnage)", "Beam-axis shift V (measured − calibration)",
               Tolerance.symmetric(0.5, 1.0, reference="Proposé : ±0,5 mm (alerte), 1 mm (action, une lame décalée d'autant)")),
    MetricSpec("plan_fit_scale_error_pct", "%", "Échelle ajustée sur le plan − 1 (le long des lames)", "Scale fitted on the plan − 1 (along the leaves)", None),
    MetricSpec("plan_fit_axis_mm", "mm", "Axe ajusté sur le plan (le long des lames)", "Axis fitted on the plan (along the leaves)", None),
    MetricSpec("plan_fit_max_residual_mm", "mm", "Résidu max. de l'ajustement échelle + axe", "Max residual of the scale + axis fit", None, better="lower"),
    MetricSpec("beam_axis_u_px", "px", "Axe faisceau mesuré, colonne", "Measured beam axis, column", None),
    MetricSpec("beam_axis_v_px", "px", "Axe faisceau mesuré, ligne", "Measured beam axis, row", None),
    MetricSpec("max_abs_relative_error_mm", "mm", "Écart max. à la droite ajustée", "Max error to fitted line",
               Tolerance.at_most(0.5, 1.0, reference="pylinac PicketFence 0,5 mm ; AAPM TG-142 1 mm"), better="lower"),
    MetricSpec("median_abs_relative_error_mm", "mm", "Écart médian à la droite ajustée", "Median error to fitted line", None, better="lower"),
    MetricSpec("max_abs_gap_error_mm", "mm", "Écart max. de largeur d'ouverture", "Max gap width error",
               Tolerance.at_most(1.0, 2.0, reference="Département ±1 mm par paire (procédure du département)"), better="lower"),
    MetricSpec("n_leaf_pairs", "", "Paires de lames analysées", "Leaf pairs analysed", None, trend=False),
    MetricSpec("n_images", "", "Nombre d'images", "Number of images", None, trend=False),
    MetricSpec("n_pickets", "", "Nombre de pickets", "Number of pickets", None, trend=False),
)
SPEC_METRICS = {ms.name: ms for ms in _METRICS}

# The method's version: bump it when the method changes (tests/test_versions.py) and say why in docs/changelog.md.
VERSION = "2.1"

SPEC = TestSpec(
    version=VERSION,
    key=KEY,
    name_fr=SPEC_NAME["fr"],
    name_en=SPEC_NAME["en"],
    frequency="weekly",
    kind="dicom",
    metrics=_METRICS,
    analyse=analyse,
    page="pages/leaves.py",
    description_fr=(
        "Test AQUA « MLC exactitude » : 6 ouvertures de 20 mm de −40 à +40 mm ; position de chaque extrémité de lame "
        "par rapport à l'axe, écart au nominal (±1 mm), écarts par banc, carte des écarts et axe faisceau mesuré sur le plan. "
        "Lit aussi les picket fences."
    ),
    description_en=(
        "AQUA \"MLC exactitude\" test: 6 gaps of 20 mm from −40 to +40 mm; each leaf tip's position from the axis, error "
        "from nominal (±1 mm), per-bank errors, an error heat map and the beam axis measured from the plan. Also reads picket fences."
    ),
    accepts=".dcm,.zip",
)

# The demo input ("module:function", see qc.registry) and how a received DICOM object is recognised as this test's.
DEMO_INPUT = "qc.demo_inputs:leaves_demo"
ROUTING = Routing(pattern=r"AQUA|LAMES?\b|LEAF|MLC", modality="RTIMAGE", order=30, expected_images=6)
# The demo database: weekly on Thursdays, undisturbed, with one week of the AQUA error plan (5/10/15 mm blocks).
DEMO = DemoSessions(
    make="qc.demo_inputs:leaves_session", gen="leaves", span="weeks", weekday=3, time="07:50", args={"staircase": False},
    outlier=(2, 3, {"staircase": True}, "Plan d'erreurs AQUA délivré volontairement (contrôle positif)."), keep_latest=2,
)


# ---------------------------------------------------------------- plotting helpers (for the page)


NOT_MEASURED_COLOUR = "#000000"  # black: far from the diverging map's white 0 and from its red/blue ends


def _pair_domain(df) -> list[int]:
    """The pairs the charts span: those with a row (measured or expected), not the whole MLC."""
    return sorted({int(p) for p in df["pair"].dropna()})


def heatmap_chart(result: AnalysisResult, lang: str = "fr", relative: bool = False):
    """Altair heat map pair × (position, bank) of the leaf errors (mm), diverging around 0; leaves
    that could not be measured in black, with their own legend."""
    import altair as alt

    df = result.extra.get("errors")
    if df is None:  # a stored session: rebuilt from its item rows
        df = errors_frame(result.items)
    if len(df) == 0:
        return None
    col = "relative_error_mm" if relative else "error_mm"
    d = df.copy()
    if "status" not in d:
        d["status"] = ""
    missing = d["status"] == NOT_MEASURED
    if not d[col].notna().any():
        return None
    d["row"] = d["image"].astype(str) + " " + d["position"].astype(str) + d["bank"].where(d["bank"] != d["position"], "").map(lambda b: f" {b}" if b else "")
    lim = max(1.0, float(np.nanmax(np.abs(d[col].astype(float)))))
    title = t("mlc.chart.relative" if relative else "mlc.chart.heatmap", lang)
    x = alt.X("pair:O", title=t("mlc.chart.pair", lang), scale=alt.Scale(domain=_pair_domain(d)))
    y = alt.Y("row:N", title=t("mlc.chart.position", lang), sort=list(dict.fromkeys(d["row"])))
    measured = (
        alt.Chart(d[d[col].notna()])
        .mark_rect()
        .encode(
            x=x, y=y,
            color=alt.Color(f"{col}:Q", title=t("mlc.chart.error_mm", lang), scale=alt.Scale(scheme="redblue", domain=[-lim, lim], reverse=True)),
            tooltip=["image", "position", "pair", "bank", alt.Tooltip(f"{col}:Q", format=".2f")],
        )
    )
    label = t("mlc.chart.not_measured", lang)
    gone = d[missing | d[col].isna()].assign(state=label)
    if len(gone) == 0:
        return measured.properties(title=title)
    unmeasured = (
        alt.Chart(gone)
        .mark_rect()
        .encode(
            x=x, y=y,
            color=alt.Color("state:N", title=t("mlc.chart.status", lang), scale=alt.Scale(domain=[label], range=[NOT_MEASURED_COLOUR])),
            tooltip=["image", "position", "pair", "bank", "state"],
        )
    )
    return alt.layer(measured, unmeasured).resolve_scale(color="independent").properties(title=title)


def failing_leaves(result: AnalysisResult) -> list[dict[str, Any]]:
    """The item rows that carry a stored profile (the failing leaves), largest |error| first."""
    return sorted((it for it in result.items if it.get("_profile")), key=lambda it: -abs(it.get("error_mm") or 0.0))


def leaf_label(it: dict[str, Any], lang: str = "fr") -> str:
    return t("leaves.chart.leaf_label", lang, image=it["image"], pair=it["pair"], bank=it["bank"])


def failing_profile_chart(result: AnalysisResult, lang: str = "fr", n: int = 6, leaves: list[dict[str, Any]] | None = None):
    """Altair chart of the stored profiles (`_profile` of the item rows) of `leaves`, by default the
    `n` failing leaves with the largest |error|: signal / gap plateau along the leaf travel, with the
    measured end (solid rule) and the planned end (dashed). None when no failing leaf has a profile."""
    import altair as alt
    import pandas as pd

    worst = [it for it in leaves if it.get("_profile")] if leaves is not None else failing_leaves(result)[:n]
    if not worst:
        return None
    lines, marks = [], []
    measured_w, nominal_w = t("leaves.chart.measured_tip", lang), t("leaves.chart.nominal_tip", lang)
    for it in worst:
        leaf = leaf_label(it, lang)
        prof = it["_profile"]
        lines.append(pd.DataFrame({"t_mm": prof["t_mm"], "signal_rel": prof["signal_rel"], "leaf": leaf}))
        marks.append({"leaf": leaf, "marker": measured_w, "t_mm": it["measured_mm"]})
        if it.get("nominal_mm") is not None:
            marks.append({"leaf": leaf, "marker": nominal_w, "t_mm": it["nominal_mm"]})
    df = pd.concat(lines, ignore_index=True)
    title = t("leaves.chart.failing_profiles", lang)
    colour = alt.Color("leaf:N", title=t("leaves.chart.leaf", lang))
    curve = (
        alt.Chart(df)
        .mark_line()
        .encode(
            x=alt.X("t_mm:Q", title=t("leaves.chart.along_mm", lang), scale=alt.Scale(zero=False)),
            y=alt.Y("signal_rel:Q", title=t("leaves.chart.relative_signal", lang)),
            color=colour,
            tooltip=["leaf", alt.Tooltip("t_mm:Q", format=".2f"), alt.Tooltip("signal_rel:Q", format=".3f")],
        )
    )
    rules = (
        alt.Chart(pd.DataFrame(marks))
        .mark_rule()
        .encode(
            x="t_mm:Q", color=colour,
            strokeDash=alt.StrokeDash("marker:N", title=t("leaves.chart.marker", lang),
                                      scale=alt.Scale(domain=[measured_w, nominal_w], range=[[1, 0], [4, 3]])),
            tooltip=["leaf", "marker", alt.Tooltip("t_mm:Q", format=".2f")],
        )
    )
    return (curve + rules).properties(title=title)


def charts(result: AnalysisResult, lang: str = "fr") -> list[tuple[str, Any]]:
    """The page's charts: the absolute-error heat map (gap images), the relative-error heat map,
    the errors per pair by bank, and the profile along the worst failing leaves."""
    import altair as alt

    out: list[tuple[str, Any]] = []
    df = result.extra.get("errors")
    if df is None:
        df = errors_frame(result.items)
    if len(df) == 0:
        return out
    if df["error_mm"].notna().any() and (df["bank"].isin(["A", "B"])).any():
        ch = heatmap_chart(result, lang)
        if ch is not None:
            out.append((t("mlc.chart.heatmap", lang), ch))
    ch = heatmap_chart(result, lang, relative=True)
    if ch is not None:
        out.append((t("mlc.chart.relative", lang), ch))
    d = df.dropna(subset=["error_mm"])
    if len(d):
        pairs = _pair_domain(df)
        tol = float(result.params.get("leaf_tolerance_mm", 1.0))
        band = alt.Chart(__import__("pandas").DataFrame({"lo": [-tol], "hi": [tol]})).mark_rect(opacity=0.12, color="green").encode(y="lo:Q", y2="hi:Q")
        pts = (
            alt.Chart(d)
            .mark_point(filled=True)
            .encode(
                x=alt.X("pair:Q", title=t("mlc.chart.pair", lang), scale=alt.Scale(domain=[pairs[0] - 0.5, pairs[-1] + 0.5], nice=False, zero=False)),
                y=alt.Y("error_mm:Q", title=t("mlc.chart.error_mm", lang)),
                color=alt.Color("bank:N", title=t("mlc.chart.bank", lang)),
                tooltip=["image", "position", "pair", "bank", alt.Tooltip("error_mm:Q", format=".2f")],
            )
        )
        title = t("mlc.chart.bank_errors", lang)
        out.append((title, (band + pts).properties(title=title)))
    ch = failing_profile_chart(result, lang)
    if ch is not None:
        out.append((t("leaves.chart.failing_profiles", lang), ch))
    return out
