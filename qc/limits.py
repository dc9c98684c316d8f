"""Default limits seeded into the dated tolerance table besides the tests' own metrics.

Owns two kinds of rows, all dated and changed like any tolerance (Settings → Tolerances, never in
place):
- per-item limits an analyser applies to each leaf or slit (`leaf_position_error_mm`,
  `slit_error_mm`), read through `AnalysisContext.tolerance_for(name, date)`; they are not stored
  as metrics, so they never become trend series (`trend=False`);
- agreed defaults for metrics an analyser emits (`beam_axis_shift_u_mm`, `beam_axis_shift_v_mm`),
  so that the limit exists in the table from the first session even before the analyser's own
  `MetricSpec` carries it.
"""

from __future__ import annotations

from qc.records.tolerances import Tolerance
from qc.spec import MetricSpec

_MLC_REF = "AAPM TG-142 (MLC : position des lames ±1 mm); procédure du département"

# Per leaf: |measured − planned| leaf-end position at the isocentre; beyond 1 mm the leaf is out of tolerance.
LEAF_POSITION_ERROR = MetricSpec(
    "leaf_position_error_mm", "mm", "Écart de position par lame", "Leaf position error (per leaf)",
    Tolerance(act_low=-1.0, tol_low=-1.0, tol_high=1.0, act_high=1.0, reference=_MLC_REF),
    trend=False,
)
# Per leaf pair of a slit: slit centre − reference centre (baseline, else plan); alert 0.5 mm, action 1 mm.
SLIT_ERROR = MetricSpec(
    "slit_error_mm", "mm", "Écart de fente par paire", "Slit error (per leaf pair)",
    Tolerance(act_low=-1.0, tol_low=-0.5, tol_high=0.5, act_high=1.0, reference=f"{_MLC_REF}; alerte à 0,5 mm"),
    trend=False,
)
# Beam axis measured from the session minus the calibration in force (a drifting calibration is caught weekly).
_AXIS_TOL = Tolerance(act_low=-0.5, tol_low=-0.5, tol_high=0.5, act_high=0.5, reference="Procédure du département : axe du faisceau ±0,5 mm")
BEAM_AXIS_SHIFT_U = MetricSpec("beam_axis_shift_u_mm", "mm", "Décalage de l'axe du faisceau (U)", "Beam axis shift (U)", _AXIS_TOL)
BEAM_AXIS_SHIFT_V = MetricSpec("beam_axis_shift_v_mm", "mm", "Décalage de l'axe du faisceau (V)", "Beam axis shift (V)", _AXIS_TOL)

DEFAULT_LIMITS: dict[str, tuple[MetricSpec, ...]] = {
    "leaves": (LEAF_POSITION_ERROR, BEAM_AXIS_SHIFT_U, BEAM_AXIS_SHIFT_V),
    "slits": (SLIT_ERROR,),
}


def limit_specs(test: str) -> tuple[MetricSpec, ...]:
    """The extra limits of a test (empty for most tests)."""
    return DEFAULT_LIMITS.get(test, ())
