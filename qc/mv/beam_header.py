"""What an RT Image header says about the beam that made it: the collimated field and whether it is FFF.

Owns reading the delivered field from the header (DICOM PS3.3 C.8.8.2 RT Image module, Exposure Sequence
(3002,0030) › Beam Limiting Device Sequence (300A,00B6)): the jaw pairs (ASYMX/X, ASYMY/Y) and the leaf
banks (MLCX/MLCY with their Leaf Position Boundaries) give the field's extent along the IEC X and Y axes of
the collimator. Leaf/Jaw Positions are in mm in the isocentre plane (IEC BEAM LIMITING DEVICE coordinates;
checked on pylinac's `6x auto bulb 2.dcm`: ASYMX/ASYMY ±50.0 mm for its 10 × 10 cm field imaged at SID 1500 mm).
Also owns the header's word on a flattening-filter-free beam ("FFF" in the image's description or label).
Nothing here decides a status: the analysers use these as nominal values, with their source named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

LEAF_OPEN_MIN_MM = 0.5  # a leaf pair opened less than this is closed (it does not shape the field)
LEAF_AGREE_MM = 0.5  # the open leaves of one bank within this of each other: a straight (rectangular) edge
_JAW_AXIS = {"X": "x", "ASYMX": "x", "Y": "y", "ASYMY": "y"}
_MLC_AXIS = {"MLCX": "x", "MLCY": "y"}


@dataclass(frozen=True)
class HeaderField:
    """The field the header says was delivered: its extents (mm at the isocentre) along IEC X and Y."""

    x_mm: tuple[float, float]
    y_mm: tuple[float, float]
    devices: tuple[str, ...]  # the device types that shaped it (e.g. ("ASYMX", "ASYMY"))
    collimator_deg: float | None

    @property
    def size_x_mm(self) -> float:
        return self.x_mm[1] - self.x_mm[0]

    @property
    def size_y_mm(self) -> float:
        return self.y_mm[1] - self.y_mm[0]

    @property
    def centred(self) -> bool:
        """Both pairs symmetric about the axis (within 0.5 mm): its edges are at ± half the size."""
        return abs(sum(self.x_mm)) <= 1.0 and abs(sum(self.y_mm)) <= 1.0


def _floats(value: Any) -> list[float] | None:
    """A DICOM number or multi-value as floats; None when absent or not numbers."""
    if value is None or value == "":
        return None
    items = [value] if isinstance(value, (str, int, float)) else list(value)
    try:
        out = [float(v) for v in items]
    except (TypeError, ValueError):
        return None
    return out if all(math.isfinite(v) for v in out) else None


def _mlc_extent(
    positions: list[float], boundaries: list[float] | None, across: tuple[float, float] | None, along: tuple[float, float] | None = None
) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    """(extent along the leaf travel, extent across the leaves) of the rectangle an MLC shapes, or None where it is not one.

    The pairs that are open (by more than `LEAF_OPEN_MIN_MM`) and lie inside `across` (the jaws across the
    leaves, when known) must agree on both banks within `LEAF_AGREE_MM`: else the aperture is not a rectangle
    (picket fence, gaps, a shaped field) and the MLC gives no extent. Leaves beyond the jaws along their travel
    (`along`, when known) are taken at the jaws: retracted leaves parked at different places do not shape the field.
    """
    n = len(positions) // 2
    if n == 0 or len(positions) != 2 * n:
        return None, None
    a, b = np.asarray(positions[:n]), np.asarray(positions[n:])
    if along is not None:
        a, b = np.clip(a, along[0], along[1]), np.clip(b, along[0], along[1])
    open_ = (b - a) > LEAF_OPEN_MIN_MM
    if boundaries is not None and len(boundaries) == n + 1:
        lo, hi = np.asarray(boundaries[:-1]), np.asarray(boundaries[1:])
        if across is not None:
            centre = (lo + hi) / 2
            open_ &= (centre > across[0]) & (centre < across[1])
    else:
        lo = hi = None
    if not open_.any():
        return None, None
    ao, bo = a[open_], b[open_]
    travel = (float(np.median(ao)), float(np.median(bo))) if np.ptp(ao) <= LEAF_AGREE_MM and np.ptp(bo) <= LEAF_AGREE_MM else None
    span = None
    if lo is not None:
        idx = np.nonzero(open_)[0]
        if np.all(np.diff(idx) == 1):  # one contiguous run of open pairs
            span = (float(lo[idx[0]]), float(hi[idx[-1]]))
    return travel, span


def _intersect(a: tuple[float, float] | None, b: tuple[float, float] | None) -> tuple[float, float] | None:
    if a is None:
        return b
    if b is None:
        return a
    return (max(a[0], b[0]), min(a[1], b[1]))


def header_field(ds: Any) -> HeaderField | None:
    """The delivered field from the first Exposure Sequence item's beam limiting devices, or None when the
    header does not give both extents (no sequence, a shaped MLC aperture, closed or crossed jaws)."""
    if ds is None:
        return None
    exposures = getattr(ds, "ExposureSequence", None) or []
    if not exposures:
        return None
    devices = getattr(exposures[0], "BeamLimitingDeviceSequence", None) or []
    jaws: dict[str, tuple[float, float]] = {}
    mlcs: list[tuple[str, list[float], list[float] | None]] = []
    used: list[str] = []
    for dev in devices:
        kind = str(getattr(dev, "RTBeamLimitingDeviceType", "")).upper()
        pos = _floats(getattr(dev, "LeafJawPositions", None))
        if not pos:
            continue
        if kind in _JAW_AXIS and len(pos) == 2:
            jaws[_JAW_AXIS[kind]] = (min(pos), max(pos))
            used.append(kind)
        elif kind in _MLC_AXIS:
            mlcs.append((kind, pos, _floats(getattr(dev, "LeafPositionBoundaries", None))))
    extent: dict[str, tuple[float, float] | None] = {"x": jaws.get("x"), "y": jaws.get("y")}
    for kind, pos, bounds in mlcs:
        travel_axis = _MLC_AXIS[kind]
        across_axis = "y" if travel_axis == "x" else "x"
        travel, span = _mlc_extent(pos, bounds, jaws.get(across_axis), jaws.get(travel_axis))
        if travel is None:
            return None  # a leaf aperture that is not one rectangle: the header gives no field size
        extent[travel_axis] = _intersect(extent[travel_axis], travel)
        if span is not None:
            extent[across_axis] = _intersect(extent[across_axis], span)
        used.append(kind)
    x, y = extent["x"], extent["y"]
    if x is None or y is None or x[1] - x[0] <= 0 or y[1] - y[0] <= 0:
        return None
    coll = _floats(getattr(exposures[0], "BeamLimitingDeviceAngle", None) or getattr(ds, "BeamLimitingDeviceAngle", None))
    return HeaderField(x, y, tuple(used), coll[0] if coll else None)


def header_says_fff(ds: Any) -> bool:
    """True when the header names a flattening-filter-free beam ("FFF" in the RT Image description, label or
    energy-like text); False when it says nothing (the profile then decides)."""
    if ds is None:
        return False
    texts = [str(getattr(ds, k, "") or "") for k in ("RTImageDescription", "RTImageLabel", "ImageComments", "SeriesDescription")]
    return any("FFF" in s.upper() for s in texts)
