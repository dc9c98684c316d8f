"""The validation table: every real image of ../shared/data as rows (peer value, ours, difference, margin, why).

One table serves both faces:
- `tests/test_validation.py` runs one test per row (our value within the stated margin of the peer's, or,
  for a row that deliberately differs, pinned to our known value with the reason written down);
- `bench/validation.py` measures every row, times each analysis and writes `docs/validation.md`
  (generated, never edited by hand).

Rows live in `tests/validation/rows_*.py`, one module per area (MR image quality, ACR, MR-Linac, MV field,
picket fence, Winston-Lutz...). Each module defines:
- `TITLE: str`: the section heading;
- `NOTES: str`: markdown printed under the section's table (method differences, who is nearer the truth);
- `ROWS: list[Row]`.
A row's `measure` is a zero-argument callable returning our value (float, or None when ours could not be
measured: that fails the row). Modules cache one analysis per file or set (`functools.cache`), so many rows
of one set cost one analysis.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"


@dataclass(frozen=True)
class Row:
    """One quantity measured on one real file or set, beside a peer's value.

    - `file`: path relative to ../shared/data (a file, or a folder for a set).
    - `quantity`: what is measured, in words (the table's column), with `unit`.
    - `peer`: whose value `peer_value` is ("hazen test assertion (MATLAB reference)", "pylinac 3.49", ...).
    - `margin`: the largest |ours − peer| accepted, in `unit`; `why_margin` justifies it (method, pixel size...).
    - `note`: the method difference, and where the two differ, which is nearer the truth and why.
    - `differs`: True for a row whose difference is deliberate and explained in `note`: the test then pins our
      value to `expected` ± `expected_tol` (a regression still fails) instead of checking the margin.
    """

    file: str
    quantity: str
    unit: str
    peer: str
    peer_value: float
    margin: float
    why_margin: str
    measure: Callable[[], float | None]
    note: str = ""
    differs: bool = False
    expected: float | None = None
    expected_tol: float | None = None

    @property
    def id(self) -> str:
        return f"{self.file}::{self.quantity}"

    def check(self, ours: float | None) -> tuple[bool, str]:
        """(passes, sentence): within the margin of the peer, or (differs) at the pinned value."""
        if ours is None or (isinstance(ours, float) and math.isnan(ours)):
            return False, "not measured"
        diff = ours - self.peer_value
        if self.differs:
            if not self.note or self.expected is None or self.expected_tol is None:
                return False, "a row that differs needs a note, an expected value and its tolerance"
            ok = abs(ours - self.expected) <= self.expected_tol
            return ok, f"ours {ours:.4g} vs pinned {self.expected:.4g} ± {self.expected_tol:g} (peer {self.peer_value:.4g})"
        ok = abs(diff) <= self.margin
        return ok, f"ours {ours:.4g} vs peer {self.peer_value:.4g}: diff {diff:+.4g}, margin {self.margin:g}"


@dataclass(frozen=True)
class Section:
    module: str
    title: str
    notes: str
    rows: list[Row]


def sections() -> list[Section]:
    """Every `rows_*` module of this package, in name order."""
    pkg_dir = Path(__file__).resolve().parent
    out = []
    for info in sorted(pkgutil.iter_modules([str(pkg_dir)]), key=lambda i: i.name):
        if not info.name.startswith("rows_"):
            continue
        mod = importlib.import_module(f"tests.validation.{info.name}")
        out.append(Section(info.name, getattr(mod, "TITLE", info.name), getattr(mod, "NOTES", ""), list(mod.ROWS)))
    return out


def all_rows() -> list[Row]:
    return [r for s in sections() for r in s.rows]


def shared_path(rel: str) -> Path:
    return SHARED_DATA / rel
