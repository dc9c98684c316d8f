"""The one page flow (pages/flow.py): every image test's page is that flow, made from the registry, with no page
file of its own; and the drifts of its three former copies stay fixed on the MR pages (duplicate asked inside the
write transaction, the per-user limit of concurrent analyses, the date form for undated images)."""

from __future__ import annotations

import contextlib
import datetime as dt
import re

import pydicom
import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO, shared_file
from pages_nav import image_test_keys, open_page

APP = str(REPO / "app.py")
PAGES = REPO / "pages"
# The page files that remain: record pages (files, not tests) and the modules the pages share.
PAGE_FILES = {
    "alerts_settings.py", "common.py", "events.py", "flow.py", "history.py", "home.py", "logged.py", "logged_import.py",
    "reports.py", "review.py", "settings.py", "signatures_block.py", "spc_view.py", "stored_view.py", "viewer.py", "views.py", "guide_link.py",
}


def start(operator: str = "AG", lang: str = "fr") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["lang"] = lang
    at.session_state["operator"] = operator
    return at.run()


# ------------------------------------------------------------------ one flow, no stub files


def test_no_page_file_per_test():
    """A test's page is made from the registry: a page file per test (a stub) must not come back."""
    from qc.registry import MENU_GROUPS, analyser_keys

    files = {p.name for p in PAGES.glob("*.py")}
    assert files <= PAGE_FILES, f"page files nobody registered: {sorted(files - PAGE_FILES)}"
    for key in [*analyser_keys(), *MENU_GROUPS]:
        assert not (PAGES / f"{key.replace('-', '_')}.py").exists(), key


def test_every_image_test_page_is_the_one_flow_from_the_registry(monkeypatch):
    """`page_for` (what app.py registers) gives every image/report test the flow's page function with its key, under
    its key as URL; logged tests keep `log_<key>`."""
    import streamlit as st

    from pages import common
    from qc.registry import builtin_tests

    made = []
    monkeypatch.setattr(st, "Page", lambda page, **kw: made.append((page, kw)) or (page, kw))
    for spec in builtin_tests():
        page, kw = common.page_for(spec)
        if spec.kind == "logged":
            assert kw["url_path"] == f"log_{spec.key}" and page == "pages/logged.py"
        else:
            assert kw["url_path"] == spec.key
            assert callable(page) and getattr(page, "flow_key", None) == spec.key, spec.key
    assert len(made) == len(builtin_tests())


def test_the_flow_is_written_once():
    """Analysing an upload, holding the user's analysis slot, asking for the date and storing an image test happen
    only in the flow (pages/flow.py) and its save block (pages/common.py): a page copying the flow fails here."""
    allowed = {
        r"pipeline\.analyse\(": {"flow.py"},
        r"analysis_slot\(": {"flow.py"},
        r"ask_date_after\(|acquisition_date_form\(": {"flow.py", "common.py"},
        r"session_uploader\(": {"flow.py", "common.py"},
        r"store_analysis\(": {"common.py", "logged.py"},  # the flow's save block; the logged tests' form
        r"save_block\(": {"flow.py", "common.py"},
    }
    for pattern, where in allowed.items():
        found = {p.name for p in PAGES.glob("*.py") if re.search(pattern, p.read_text(encoding="utf-8"))}
        assert found <= where, f"{pattern} in {sorted(found - where)}"


def test_every_image_test_has_a_page_in_the_navigation(qc_data_dir):
    """Each registry test is reachable at its URL and opens on its own title (function pages, no file)."""
    from qc.registry import get_test

    at = start()
    for key in image_test_keys():
        open_page(at, key).run()
        assert not at.exception, (key, [e.value for e in at.exception])
        assert at.title and at.title[0].value == get_test(key).name("fr"), key


# ------------------------------------------------------------------ the drifts, fixed on the MR pages


@contextlib.contextmanager
def every_slot_taken(owner: str):
    from qc import slots

    with contextlib.ExitStack() as stack:
        for _ in range(slots.MAX_ANALYSES_PER_USER):
            stack.enter_context(slots.analysis_slot(owner))
        yield


def busy(at: AppTest) -> bool:
    return any("en cours" in e.value and "Attendez" in e.value for e in at.error)


def test_mr_image_page_holds_the_per_user_limit(qc_data_dir):
    """Drift: the MR image page ran its seven analyses whatever the user already ran; now it waits like MV pages."""
    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity A")
    at = start()
    open_page(at, "mr-image").run()
    with every_slot_taken("AG"):
        at.button(key="mr_image_demo").click().run()
    assert not at.exception
    assert busy(at), [e.value for e in at.error]
    assert not at.tabs
    at.run()  # the slots are free again: the measures run
    assert not at.exception and at.tabs and not busy(at)


@pytest.mark.parametrize("page, upload_key", [("mr-b0", "mr_b0_upload"), ("mr-linac", "mr_linac_upload")])
def test_mr_linac_pages_hold_the_per_user_limit(page, upload_key, qc_data_dir):
    """Drift: the MR-Linac pages (a test, the study) analysed without taking one of the user's slots."""
    from qc.synthetic import mr_linac as S

    files = S.b0_map_study(dt.datetime(2026, 11, 20, 9, 0), seed=1, n=48, spacing_mm=9.4)[0]
    at = start()
    open_page(at, page).run()
    with every_slot_taken("AG"):
        at.file_uploader(key=upload_key).set_value([(n, b, "application/dicom") for n, b in files]).run()
    assert not at.exception
    assert busy(at), [e.value for e in at.error]
    assert not at.header and not [b for b in at.button if (b.key or "").endswith("_save")]


def test_mr_image_duplicate_stored_meanwhile_is_refused_not_stored_twice(qc_data_dir, monkeypatch):
    """Drift: the MR image page stored with `allow_duplicate=True`, so the same series saved for the same measure by
    another user between the question and the write was stored twice. Now the question is asked again inside the
    write transaction: the click gets the duplicate sentence and nothing more is stored."""
    import qc.record
    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        machine_id = s.add_machine("Unity A")
    p = shared_file("hazen", "uniformity", "axial_oil.IMA")
    at = start()
    open_page(at, "mr-image").run()
    at.file_uploader(key="mr_image_upload").set_value([(p.name, p.read_bytes(), "application/dicom")]).run()
    assert not [b for b in at.button if b.key == "mr_image_mr-uniformity_save"][0].disabled  # no question: new files

    drawn = qc.record.drawn_pictures

    def another_user_stores_it_meanwhile(spec, result, lang, warnings):
        # after the page asked its question, before its write: a colleague stores the same series for this measure
        if spec.key == "mr-uniformity":
            with open_store(qc_data_dir) as other:
                if other.sessions_frame(test=spec.key).empty:
                    other.save_session(spec, result, machine_id, operator="PH", judged=[])
        return drawn(spec, result, lang, warnings)

    monkeypatch.setattr(qc.record, "drawn_pictures", another_user_stores_it_meanwhile)
    at.button(key="mr_image_mr-uniformity_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("déjà" in e.value for e in at.error), [e.value for e in at.error]
    with open_store(qc_data_dir) as s:
        assert len(s.sessions_frame(test="mr-uniformity")) == 1
    # the same file for another measure of the page is still no duplicate
    at.button(key="mr_image_mr-ghosting_save").click().run()
    assert not at.exception
    with open_store(qc_data_dir) as s:
        assert len(s.sessions_frame(test="mr-ghosting")) == 1


def undated(path) -> bytes:
    """The file without any date its header could give (acquisition, content, creation, series, study)."""
    import io

    ds = pydicom.dcmread(str(path))
    for kw in ("AcquisitionDate", "AcquisitionTime", "AcquisitionDateTime", "ContentDate", "ContentTime",
               "InstanceCreationDate", "InstanceCreationTime", "SeriesDate", "SeriesTime", "StudyDate", "StudyTime"):
        if kw in ds:
            delattr(ds, kw)
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def test_undated_mr_image_gets_the_date_form_and_is_analysed_with_the_date_given(qc_data_dir):
    """An MR image with no date at all: the page asks for it (never guessed), then analyses with it."""
    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity A")
    at = start()
    open_page(at, "mr-image").run()
    data = undated(shared_file("hazen", "uniformity", "axial_oil.IMA"))
    at.file_uploader(key="mr_image_upload").set_value(("sans_date.IMA", data, "application/dicom")).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert not at.tabs  # nothing analysed before the date is given
    assert [d for d in at.date_input if d.key == "mr_image_date_day"]
    at.date_input(key="mr_image_date_day").set_value(dt.date(2026, 3, 9))
    at.button[[b.proto.label for b in at.button].index("Analyser avec cette date")].click().run()
    assert not at.exception
    assert at.tabs
    assert any("2026-03-09" in c.value for c in at.caption), [c.value for c in at.caption]
