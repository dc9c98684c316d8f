"""Placeholder or impossible header dates are no date (issue 23, item 7): GE consoles write 0001-01-01, a wrong
clock writes the future. One rule (`qc.readers.dicom_io.is_plausible_date`) for every face: the pipeline asks for
the date (page) or refuses with a sentence naming the header's date (CLI exit 2); a date given replaces it, with a
warning naming the rejected one; the receiver leaves such an object unassigned with the same sentence."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys

import pydicom
import pytest

from conftest import REPO
from pages_nav import open_page
from qc import pipeline
from qc.errors import QCInputError
from qc.readers import dicom_io
from qc.records.storage import open_store
from qc.registry import get_test

ALL_DATE_TAGS = ("AcquisitionDate", "ContentDate", "InstanceCreationDate", "SeriesDate", "StudyDate")
GE_PLACEHOLDER = "00010101"
FUTURE = (dt.date.today() + dt.timedelta(days=400)).strftime("%Y%m%d")


def redated(data: bytes, day: str, only: tuple[str, ...] = ALL_DATE_TAGS) -> bytes:
    """The same DICOM with the date tags `only` set to `day` (YYYYMMDD), as a GE console writes 0001-01-01."""
    ds = pydicom.dcmread(io.BytesIO(data))
    for tag in only:
        setattr(ds, tag, day)
    if "AcquisitionDateTime" in ds:
        del ds.AcquisitionDateTime
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def mr_file(day: str, only: tuple[str, ...] = ALL_DATE_TAGS) -> bytes:
    """A MagNET slice-width image (5 mm) carrying the header date `day`."""
    from qc.synthetic.mr_phantoms import magnet_dicom

    data, _ = magnet_dicom(5.0, nominal_mm=5.0, seed=3)
    return redated(data, day, only)


def field_file(day: str) -> bytes:
    from qc.synthetic.field import field_image

    data, _ = field_image(150.0, 80.0, acquired_at=dt.datetime(2026, 3, 10, 9, 0))
    return redated(data, day)


def test_the_rule():
    now = dt.datetime(2026, 12, 7, 12, 0)
    assert not dicom_io.is_plausible_date(dt.datetime(1, 1, 1), now)
    assert not dicom_io.is_plausible_date(dt.datetime(1989, 12, 31), now)
    assert dicom_io.is_plausible_date(dt.datetime(1990, 1, 1), now)
    assert dicom_io.is_plausible_date(now + dt.timedelta(hours=20), now)  # a scanner's clock or time zone a little ahead
    assert not dicom_io.is_plausible_date(now + dt.timedelta(days=2), now)


def test_a_placeholder_date_is_no_date_and_the_next_tag_is_read():
    ds = pydicom.dcmread(io.BytesIO(mr_file(GE_PLACEHOLDER)))
    assert dicom_io.acquisition_datetime(ds) == (None, "")
    when, source, rejected = dicom_io.header_datetime(ds)
    assert when is None and rejected.date() == dt.date(1, 1, 1)
    # only the acquisition date is a placeholder: the content date (plausible) is used, the placeholder named
    ds = pydicom.dcmread(io.BytesIO(mr_file(GE_PLACEHOLDER, only=("AcquisitionDate",))))
    when, source, rejected = dicom_io.header_datetime(ds)
    assert source == "ContentDate" and when.year == 2026 and rejected.date() == dt.date(1, 1, 1)


@pytest.mark.parametrize("day, shown", [(GE_PLACEHOLDER, "0001-01-01"), (FUTURE, f"{FUTURE[:4]}-{FUTURE[4:6]}-{FUTURE[6:]}")])
def test_pipeline_asks_for_the_date_then_judges_with_the_given_one(store, machine, day, shown):
    spec = get_test("mr-slice-thickness")
    inputs = [("ge.dcm", mr_file(day))]
    with pytest.raises(QCInputError) as e:
        pipeline.analyse(store, spec, inputs, machine)
    assert pipeline.needs_date(e.value) and shown in e.value.message("fr") and "ge.dcm" in e.value.message("fr")
    given = dt.datetime(2026, 3, 9, 14, 30)
    a = pipeline.analyse(store, spec, inputs, machine, acquired_at=given)
    assert a.result.acquired_at == given and a.result.acquired_at_source == "user"
    assert any(shown in w and "rejetée" in w for w in a.warnings), a.warnings
    # every metric has a verdict (the rules in force on the given date), none is left without one
    assert a.judged and all(j.status in ("pass", "warning", "fail") for j in a.judged), [(j.name, j.status) for j in a.judged]


def test_a_given_date_that_is_impossible_is_refused(store, machine):
    with pytest.raises(QCInputError) as e:
        pipeline.analyse(store, get_test("mr-slice-thickness"), [("ge.dcm", mr_file(GE_PLACEHOLDER))], machine,
                         acquired_at=dt.datetime(1, 1, 1))
    assert e.value.key == "err.implausible_given_date" and pipeline.needs_date(e.value)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "qc", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("test, make", [("mr-slice-thickness", mr_file), ("field", field_file)])
@pytest.mark.parametrize("day", [GE_PLACEHOLDER, FUTURE])
def test_cli_exits_2_on_a_placeholder_date_and_stores_with_date(tmp_path, qc_data_dir, test, make, day):
    f = tmp_path / "ge.dcm"
    f.write_bytes(make(day))
    assert _cli("add-machine", "Unity A", "--cax", "511.03", "652.75").returncode == 0
    out = _cli("analyse", test, str(f), "--machine", "Unity A", "--store")
    assert out.returncode == 2 and out.stdout == "" and len(out.stderr.strip().splitlines()) == 1, out
    assert f"{day[:4]}-{day[4:6]}-{day[6:]}" in out.stderr and "--date" in out.stderr
    out = _cli("analyse", test, str(f), "--machine", "Unity A", "--store", "--json", "--date", "2026-03-09 14:30")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["acquired_at"] == "2026-03-09 14:30:00" and res["acquired_at_source"] == "user"
    assert all(s is not None for s in res["statuses"].values()), res["statuses"]
    with open_store(qc_data_dir) as s:
        assert s.session(res["session_id"])["acquired_at"] == "2026-03-09 14:30:00"


def test_cli_refuses_an_impossible_given_date(tmp_path, qc_data_dir):
    f = tmp_path / "ge.dcm"
    f.write_bytes(mr_file(GE_PLACEHOLDER))
    out = _cli("analyse", "mr-slice-thickness", str(f), "--date", "1900-01-01")
    assert out.returncode == 2 and "1900-01-01" in out.stderr


def test_the_receiver_leaves_a_placeholder_dated_object_unassigned_with_its_date():
    from qc.intake.inbox import read_header

    h = read_header(mr_file(GE_PLACEHOLDER))
    assert h.acquired_at is None and h.rejected_date.date() == dt.date(1, 1, 1)


def test_mr_image_page_asks_for_the_date_naming_the_placeholder(qc_data_dir):
    from streamlit.testing.v1 import AppTest

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity A")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    at.session_state["lang"] = "fr"
    at.session_state["operator"] = "AG"
    at.run()
    open_page(at, "mr-image").run()
    at.file_uploader(key="mr_image_upload").set_value(("ge.dcm", mr_file(GE_PLACEHOLDER), "application/dicom")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("0001-01-01" in w.value.replace("\\", "") for w in at.warning), [w.value for w in at.warning]
    assert not at.tabs  # no result before the date is given
    at.date_input(key="mr_image_date_day").set_value(dt.date(2026, 3, 9))
    at.button[[b.proto.label for b in at.button].index("Analyser avec cette date")].click().run()
    assert not at.exception
    assert at.tabs, "the measures show once the date is given"
    assert any("0001-01-01" in w.value.replace("\\", "") and "rejetée" in w.value for w in at.warning), [w.value for w in at.warning]
