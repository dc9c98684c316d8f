"""Validation rows of Position des lames (qc.mv.leaves): the leaf ends of the AQUA gap plan.

No real AQUA leaf image is in ../shared/data (the department's sessions were examined outside the repository), so
there are no rows; NOTES records the leaf-end definition, its bias against the alternatives on synthetic images
(bench/bench_leaf_ends.py), what the real weeks showed and what remains to check on them.
"""

from __future__ import annotations

from tests.validation.table import Row

TITLE = "Position des lames (AQUA gaps): the leaf-end definition"

NOTES = """
**No real image here.** The AQUA "MLC exactitude" sessions (six 20 mm gaps from [−40, −20] to [+20, +40] mm, 7 MV
FFF, imager at SID ≈ 265 cm) are not in `../shared/data`. So this section has no rows. The figures below come from
synthetic sessions of known truth (`qc.synthetic.mlc`, `bench/bench_leaf_ends.py`) and from the description of two
real weeks given in issue #24 (item 6).

**Definition (mv-leaves).** A leaf end sits at 50 % between two levels:
- the leaf-blocked level beside it (the minimum within 10 mm outside);
- the local open-field level at the end's own position.

The open level is the gap's plateau line (the FFF dome) extrapolated to the end. That plateau is estimated through
the erf penumbra of each bank's ends, measured on the opening side (2 × the 50→80 % distance). Until now one σ per
image served both ends. This is the "50 % of the open-field dose at that point" of IEC/TG-50 practice, with the dome
normalised out. A rounded leaf end puts its 50 % (radiation-field) edge at a nearly constant offset from the
light-field tangent, and the vendor calibration absorbs that offset (Zhou et al., Radiol Oncol 2015;49:299). We found
no published Elekta Agility/Unity text that defines "leaf position" more precisely. pylinac's picket fence uses the
FWXM 50 % of each picket's own peak, which is our picket/slit reading.

**Bias of each definition** on noise-free profiles (pair 41; mm, + = read outside the opening; ends −40 / −20 of
[−40, −20] and +20 / +40 of [+20, +40]; the model's 50 % of the open field is on the programmed tip):

| model | 50 % of local open field | 50 % of gap maximum | inflection |
|---|---|---|---|
| reference: σ 2.5 mm, dome 2.4 %/cm at 40 mm | +0.03 / 0.00 | −0.06 / +0.05 | −0.01 / +0.02 |
| steep dome, 4.4 %/cm at 40 mm | +0.03 / 0.00 | **−0.20 / +0.11** | −0.05 / +0.06 |
| ends widening, σ 2.5 → 4.1 mm at 40 mm | +0.04 / −0.01 | −0.06 / +0.10 | +0.05 / +0.04 |
| widening + steep dome | +0.04 / −0.01 | **−0.26 / +0.20** | −0.08 / +0.10 |
| asymmetric, σ under the leaf 2.5 → 4.5 mm | +0.04 / −0.01 | −0.07 / +0.06 | −0.01 / 0.00 |
| imager glare 10 %, σ 15 mm, cut by the diaphragm | −0.04 / **−0.15** | +0.04 / +0.09 | 0.00 / +0.03 |
| scatter under the leaves, 4 % | **+0.11** / 0.00 | +0.02 / +0.05 | −0.01 / +0.02 |

How each alternative fails:
- **50 % of the gap maximum** pulls an off-axis gap towards the axis: its outer end reads inside and its inner end
  outside, growing with the dome's slope (`test_gap_maximum_definition_pulls_the_outer_gaps_towards_the_axis`).
- **The inflection** needs no levels, and scatter barely moves it. But a dome multiplied by a wide penumbra moves
  it by about 2σ²·D′/D: up to 0.10 mm (`test_inflection_definition_follows_the_penumbra_shape`).
- **50 % of the local open field** is biased where the open level is not the gap's own level:
  - a scatter tail that a 20 mm gap does not fully receive: −0.14 mm (glare 10 %);
  - a blocked level read under the Y diaphragm, 7.5 mm beyond the ±40 mm ends: +0.03 mm, or +0.11 mm with 4 %
    scatter under the leaves.

**The analyser, old and new** (noisy sessions; mean error per image and bank, [A, B] of images 1 and 6; inner four
gaps in brackets):

| model | old (one σ per image) | new (each bank's σ) |
|---|---|---|
| ends widening, 2.5 → 4.1 mm | [−0.44, −0.20] / [+0.20, +0.43] (inner ≤ 0.30) | [−0.06, −0.03] / [+0.03, +0.06] (≤ 0.02) |
| widening + steep dome | [−0.38, −0.19] / [+0.20, +0.39] (≤ 0.26) | [+0.06, 0.00] / [0.00, −0.05] (≤ 0.10) |
| only the ±40 mm ends wider, 2.5 → 4.0 mm | **[−0.72, −0.23] / [+0.24, +0.73]** (≤ 0.01) | [−0.05, −0.02] / [+0.02, +0.06] (≤ 0.01) |
| asymmetric split normal, σ 2.0 / 3.5 mm | bank means 0.00 | +0.04 (max 0.071) |

**What the real weeks showed** (normal week 13-11, the old code; not reproducible here):
- Compared with the department's in-house tool, the gap centres agree within 0.03 mm on average. Our gaps are
  0.45 mm wider.
- Both normal weeks fail three bank-A leaves at −41.05 … −41.22 mm. The in-house tool passes them one week and
  flags two other leaves the other week.
- Mean errors per bank end:
  - image 1: A −0.66, B −0.30 mm;
  - image 6: A +0.09, B +0.41 mm;
  - the four inner gaps: within 0.06 mm.

Fitting the plan's 12 ends to that signature gives:
- scale +0.74 %;
- axis −0.04 mm;
- **max residual 0.32 mm**.

A linear magnification does not explain the errors: the −20 end of image 1 is off by 0.30 mm, while the −20 end of
image 3 is not. The session now reports this fit beside the judged errors (`plan_fit_scale_error_pct`,
`plan_fit_axis_mm`, `plan_fit_max_residual_mm`) and never uses it to correct them.

Of the effects modelled, only ±40 mm ends whose penumbra is wider than the others (σ 4.0 vs 2.5 mm) reproduce the
signature with the old code: RMS 0.10 mm over the 12 bank means. That penumbra could come from the Y diaphragm edge
7.5 mm beyond them or from a rounded end's U-shaped penumbra. Every other model scores RMS ≥ 0.17 mm:
- uniform widening moves the inner gaps as well;
- glare or scatter moves only the ±40 mm ends;
- the dome alone moves nothing with this definition.

**What remains to check on the real images:**
1. Run both weeks on this branch.
2. Read `leaf_end_penumbra_20_80_mm` in the session's parameters. If the ±40 mm ends' penumbra exceeds the ±20 mm
   ends' by about 1.5 mm, the explanation holds, and the outermost gaps should move back by about +0.6 mm (ends at
   ±40) and +0.2 mm (ends at ±20).
3. Check whether the three failing bank-A leaves still fail. Their profile is now stored with the result and drawn
   on the page ("Profil le long des lames hors tolérance").
4. The 0.45 mm width difference with the in-house tool is not explained by any definition here. Its definition
   (levels, background) must be asked for.
5. The 0.74 mm beam-axis offset lies across the leaves (the 40|41 junction): the leaf-end definition does not touch it.
"""

ROWS: list[Row] = []
