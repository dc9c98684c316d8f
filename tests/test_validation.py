"""One test per row of the validation table (tests/validation): ours against the peer on every real image.

The same rows generate docs/validation.md (`bench/validation.py`); a row that fails here is a row of that
document outside its margin.
"""

from __future__ import annotations

import pytest

from tests.conftest import shared_file
from tests.validation.table import all_rows

ROWS = all_rows()


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_validation_row(row):
    shared_file(*row.file.split("/"))  # skips (fails in CI) without ../shared/data
    ours = row.measure()
    ok, sentence = row.check(ours)
    assert ok, f"{row.quantity} on {row.file}: {sentence}"


def test_every_shared_file_is_a_row():
    """Every real image of ../shared/data stands in the table (a set counts through its folder)."""
    from tests.validation.table import SHARED_DATA

    shared_file("MANIFEST.md")
    covered = {r.file for r in ROWS}
    images = [p for p in SHARED_DATA.rglob("*") if p.is_file() and p.suffix.lower() in (".dcm", ".ima", "") and p.name not in ("LICENSE",)]
    images = [p for p in images if p.suffix or p.name.isdigit()]
    missing = []
    for p in images:
        rel = p.relative_to(SHARED_DATA).as_posix()
        if not any(rel == c or rel.startswith(c.rstrip("/") + "/") for c in covered):
            missing.append(rel)
    assert not missing, f"{len(missing)} real files are in no row of the validation table: {missing[:20]}"


def test_docs_validation_md_is_generated_from_these_rows():
    """docs/validation.md is what bench/validation.py writes from the rows (after the rows above, the analyses are cached)."""
    import importlib.util

    from tests.validation.table import REPO

    shared_file("MANIFEST.md")
    spec = importlib.util.spec_from_file_location("bench_validation", REPO / "bench" / "validation.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    text = bench.render(timed=False)
    assert (REPO / "docs" / "validation.md").read_text(encoding="utf-8") == text, "docs/validation.md is stale: run bench/validation.py"
