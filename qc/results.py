"""Typed results shared by every analyser (pylinac-style result, hazen-style measurements).

An analyser returns an `AnalysisResult`: one `Measurement` per metric (one stored row each), a
per-item table (per image, leaf, scan...), warnings, an optional overlay image, the acquisition date
and machine identity taken from the input (never the upload time), and the analyser version.
Judging against tolerances happens later (`qc.tolerances`), because it depends on the machine
and on the tolerance in force on the acquisition date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qc import __version__


@dataclass
class Measurement:
    """One measured value: hazen's `Measurement(name, value, unit, ...)`, one stored row each.

    `item` names what the value belongs to within the session ("" for the session as a whole; an image's
    nominal field "150x80", a PIQT scan/echo...): trends are keyed by (test, name, item).
    `nominal`, when given, is what this value should be (e.g. the matched nominal field size);
    limits given here (`limits`) override the configured tolerance, for reports that carry their
    own criterion (PIQT).
    """

    name: str
    value: float | None
    unit: str = ""
    item: str = ""
    description: str = ""
    nominal: float | None = None
    limits: tuple[float | None, float | None, float | None, float | None] | None = None
    reference: str = ""
    reason: str = ""  # why the value is missing (shown with "Non mesuré")


@dataclass
class InputFile:
    """Identity of one input file, kept with the stored session."""

    filename: str
    sha256: str
    size: int
    sop_instance_uid: str = ""
    data: bytes | None = field(default=None, repr=False)


@dataclass
class AnalysisResult:
    """What every analyser returns."""

    test: str
    measurements: list[Measurement]
    items: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    acquired_at: dt.datetime | None = None
    # Where acquired_at came from: a header tag ("AcquisitionDate", "ContentDate", "InstanceCreationDate"...),
    # "user" (typed: the header had none), "report" (a PIQT report's own date).
    acquired_at_source: str = ""
    station_name: str = ""
    device_serial: str = ""
    files: list[InputFile] = field(default_factory=list)
    overlays: list[tuple[str, np.ndarray]] = field(default_factory=list, repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    params: dict[str, Any] = field(default_factory=dict)
    analyser_version: str = __version__
    analysed_at: dt.datetime = field(default_factory=lambda: dt.datetime.now().replace(microsecond=0))

    @property
    def metrics(self) -> dict[str, float | None]:
        """Values keyed `name`, or `name[item]` for per-item values (the CLI's JSON keys)."""
        return {metric_key(m.name, m.item): m.value for m in self.measurements}

    @property
    def units(self) -> dict[str, str]:
        return {metric_key(m.name, m.item): m.unit for m in self.measurements}

    def measurement(self, name: str, item: str = "") -> Measurement:
        for m in self.measurements:
            if m.name == name and m.item == item:
                return m
        raise KeyError(metric_key(name, item))


def metric_key(name: str, item: str = "") -> str:
    return f"{name}[{item}]" if item else name
