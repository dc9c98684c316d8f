"""What the three MV analysers (MVIC-Champ, Position des lames, MVIC Fente) share around one image.

Owns: the per-image set-up (load the RT Images of a session, their beam-axis pixel from the
calibration in force on each image's date, the gantry check and the warnings that go with them),
the session's acquisition date for the dated lookups, the dated limit of a per-item quantity
(per leaf, per slit) and its id, a block mean for display copies, rounding of item values, and the
building of a `Measurement` from a `MetricSpec` (a value that could not be measured stays None:
judging makes it fail when the metric has limits; nothing here decides a status).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qc.i18n import t
from qc.readers.dicom_io import RT_IMAGE, DicomImage, load_images
from qc.mv.geometry import CaxPixel, cax_pixel
from qc.tolerances import Tolerance
from qc.spec import AnalysisContext, MetricSpec
from qc.results import Measurement

GANTRY_TOLERANCE_DEG = 1.0  # the MV tests are delivered at gantry 0°: farther than this earns a warning


@dataclass
class PreparedImage:
    """One RT Image ready to measure: the image, its beam-axis pixel and the set-up warnings."""

    image: DicomImage
    cax: CaxPixel
    warnings: list[str] = field(default_factory=list)
    cax_warning: str | None = None  # why the axis pixel is not a calibration (kept apart: each analyser says what it does instead)
    calibration_outside: bool = False  # a calibration is in force but does not fit this image

    @property
    def filename(self) -> str:
        return self.image.file.filename

    @property
    def calibrated(self) -> bool:
        return self.cax.source == "calibration"

    def cax_record(self) -> dict[str, Any]:
        """What a result stores about the axis it used (params["cax"][file])."""
        return {"u0": self.cax.u0, "v0": self.cax.v0, "source": self.cax.source, "calibration_id": self.cax.calibration_id}


def prepare_images(
    inputs: list[tuple[str, bytes]], ctx: AnalysisContext, test_name: dict[str, str], gantry_key: str
) -> list[PreparedImage]:
    """Load the session's RT Images (refusing anything else) and find each one's beam-axis pixel.

    Each image's own header date chooses the calibration (`ctx.cax_for`); an image without one
    takes the user-given `ctx.acquired_at`. `gantry_key` is the message of the gantry warning.
    """
    lang = ctx.lang
    images = load_images(inputs, RT_IMAGE, test_name.get(lang, test_name["fr"]), lang)
    out = []
    for im in images:
        warnings = list(im.warnings)
        when = im.acquired_at or ctx.acquired_at
        cax, w = cax_pixel(im, ctx, when)
        outside = cax.source != "calibration" and ctx.cax_for(when) is not None
        g = im.gantry_angle_deg
        if g is not None and min(abs(g), abs(g - 360)) > GANTRY_TOLERANCE_DEG:
            warnings.append(t(gantry_key, lang, file=im.file.filename, angle=g))
        out.append(PreparedImage(im, cax, warnings, w, outside))
    return out


def calibration_warnings(prepared: list[PreparedImage]) -> list[str]:
    """What the physicist must know about the beam-axis calibration of a session: each image whose calibration
    does not fit it, else (no calibration in force) one sentence naming the date without a calibration and the
    calibration that exists, if any (said once, not per image)."""
    outside = [p.cax_warning for p in prepared if p.calibration_outside and p.cax_warning]
    if outside:
        return outside
    missing = next((p.cax_warning for p in prepared if p.cax.source != "calibration" and p.cax_warning), None)
    return [missing] if missing else []


def session_date(prepared: list[PreparedImage], ctx: AnalysisContext) -> dt.datetime | None:
    """The session's acquisition date for the dated lookups: the earliest image date, else the user's."""
    dates = [p.image.acquired_at for p in prepared if p.image.acquired_at is not None]
    return min(dates) if dates else ctx.acquired_at


def baseline_in_force(ctx: AnalysisContext, when: dt.datetime | None) -> dict[str, Any] | None:
    """The stored baseline in force on the acquisition date (`ctx.baseline_for`). A context that is not
    tied to a machine (tests, scripts) may carry one baseline in `ctx.baseline`: used as given. A
    machine's newer baseline is never used for an older session."""
    dated = ctx.baseline_for(when)
    if dated is not None:
        return dated
    return ctx.baseline if ctx.machine is None and isinstance(ctx.baseline, dict) else None


def item_tolerance(ctx: AnalysisContext, spec: MetricSpec, when: dt.datetime | None) -> Tolerance | None:
    """The dated tolerance of a per-item quantity (per leaf, per slit): the table's row in force, else the default."""
    tol = ctx.tolerance_for(spec.name, when)
    return tol if tol is not None else spec.tolerance


def tolerance_record(tol: Tolerance | None) -> dict[str, Any] | None:
    """The limits and id of a tolerance as stored in a result's params (what judged the items)."""
    if tol is None:
        return None
    return {**tol.as_row(), "id": tol.id}


def block_mean(a: np.ndarray, f: int) -> np.ndarray:
    """Mean over f×f blocks (the image cropped to a multiple of f); strided sums are ~5x faster than
    a 4-D reshape-mean on 1024² images."""
    if f <= 1:
        return a
    r, c = (a.shape[0] // f) * f, (a.shape[1] // f) * f
    out = np.zeros((r // f, c // f))
    for i in range(f):
        for j in range(f):
            out += a[i:r:f, j:c:f]
    return out / (f * f)


def rounded(v: float | None, nd: int = 3) -> float | None:
    """An item value rounded for storage; None for a value that could not be measured (None or not finite)."""
    if v is None:
        return None
    f = float(v)
    return round(f, nd) if math.isfinite(f) else None


def measurement(spec: MetricSpec, value: float | None, lang: str, item: str = "", nominal: float | None = None) -> Measurement:
    """The stored row of one metric. A missing or non-finite value stays None (Non mesuré: it fails
    when the metric has limits); the limits come from the dated tolerance table when judged."""
    v = None if value is None else float(value)
    if v is not None and not math.isfinite(v):
        v = None
    return Measurement(spec.name, v, spec.unit, item=item, description=spec.label(lang), nominal=nominal)
