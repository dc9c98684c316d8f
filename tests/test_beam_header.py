"""The field an RT Image header says was delivered (qc.mv.beam_header): jaws, leaf banks, FFF."""

from __future__ import annotations

import pydicom
from pydicom.dataset import Dataset

from qc.mv.beam_header import header_field, header_says_fff
from qc.synthetic.field import exposure_sequence
from tests.conftest import shared_file


def _ds(**kw) -> Dataset:
    ds = Dataset()
    for k, v in kw.items():
        setattr(ds, k, v)
    return ds


def test_real_header_of_a_10x10_field():
    ds = pydicom.dcmread(shared_file("pylinac", "open_field", "6x auto bulb 2.dcm"), stop_before_pixels=True)
    hf = header_field(ds)
    assert hf is not None and hf.devices == ("ASYMX", "ASYMY")
    assert round(hf.size_x_mm, 2) == 100.0 and round(hf.size_y_mm, 2) == 100.0 and hf.centred
    assert header_field(pydicom.dcmread(shared_file("pylinac", "open_field", "flatsym_demo.dcm"), stop_before_pixels=True)) is None


def test_mlc_rectangle_inside_the_jaws():
    bounds = [-20.0 + 5 * i for i in range(9)]  # 8 pairs of 5 mm from −20 to +20
    a = [-30.0] * 8
    b = [30.0] * 8
    a[0] = b[0] = 0.0  # the outer pairs closed (outside the Y jaws anyway)
    a[-1] = b[-1] = 0.0
    ds = _ds(ExposureSequence=exposure_sequence((-40, 40), (-15, 15), (a + b, bounds)))
    hf = header_field(ds)
    assert hf is not None
    assert hf.x_mm == (-30.0, 30.0)  # the leaves are inside the X jaws
    assert hf.y_mm == (-15.0, 15.0)  # the open pairs span −15…+15, as the jaws


def test_a_leaf_pattern_gives_no_nominal_field():
    bounds = [-20.0 + 5 * i for i in range(9)]
    a = [-30.0 + 10 * (i % 2) for i in range(8)]  # a staircase: not one rectangle
    b = [30.0] * 8
    assert header_field(_ds(ExposureSequence=exposure_sequence((-40, 40), (-20, 20), (a + b, bounds)))) is None


def test_no_sequence_or_missing_axis():
    assert header_field(_ds()) is None
    seq = exposure_sequence((-40, 40), (-20, 20))
    del seq[0].BeamLimitingDeviceSequence[1]  # no Y jaws, no MLC: Y unknown
    assert header_field(_ds(ExposureSequence=seq)) is None


def test_fff_named_in_the_header():
    assert header_says_fff(_ds(RTImageDescription="7 FFF, 425 MU/min"))
    assert not header_says_fff(_ds(RTImageDescription="6 [MV], 600 [MU/min]"))
    assert not header_says_fff(None)


def test_retracted_leaves_parked_unevenly_leave_the_jaws_in_charge():
    bounds = [-20.0 + 5 * i for i in range(9)]
    a = [-60.0 - 5 * (i % 3) for i in range(8)]  # all beyond the X jaws (±40), parked at different places
    b = [60.0 + 5 * (i % 2) for i in range(8)]
    hf = header_field(_ds(ExposureSequence=exposure_sequence((-40, 40), (-15, 15), (a + b, bounds))))
    assert hf is not None and hf.x_mm == (-40.0, 40.0) and hf.y_mm == (-15.0, 15.0)
