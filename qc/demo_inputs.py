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


DEMO_INPUTS: dict[str, Callable[[], list[tuple[str, bytes]]]] = {
    "field": field_demo,
    "leaves": leaves_demo,
    "slits": slits_demo,
    "wl": wl_demo,
    "piqt": piqt_demo,
}


def demo_inputs_for(test_key: str) -> Callable[[], list[tuple[str, bytes]]] | None:
    """The demo-input maker of a test, or None when the test has none (the button is then disabled)."""
    return DEMO_INPUTS.get(test_key)
