"""MR image-quality pages (mr-snr, mr-uniformity, mr-ghosting) through Streamlit's AppTest: render in FR/EN,
demo and real uploads show values and ROI images, a bad file gives one sentence, saving stores a session."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO, shared_file
from pages_nav import open_page

APP = str(REPO / "app.py")
PAGES = {"mr-snr": "mr-snr", "mr-uniformity": "mr-uniformity", "mr-ghosting": "mr-ghosting"}  # key: URL path


def start(lang: str = "fr", operator: str = "") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["lang"] = lang
    if operator:
        at.session_state["operator"] = operator
    return at.run()


def clean(at: AppTest, where: str) -> None:
    assert not at.exception, f"{where}: {[e.value for e in at.exception]}"
    assert not [e.value for e in at.error], f"{where}: {[e.value for e in at.error]}"


def test_pages_are_in_the_registry():
    from qc.registry import analyser_keys

    assert set(PAGES) <= set(analyser_keys())


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_demo_on_each_page_shows_values_and_roi_images(lang, qc_data_dir):
    at = start(lang)
    for key, page in PAGES.items():
        open_page(at, page).run()
        clean(at, page)
        at.button(key=f"{key}_demo").click().run()
        clean(at, f"{page} demo")
        assert at.dataframe, page
        assert len(at.get("image")) >= 1, page


def test_real_snr_pair_upload_and_save(qc_data_dir):
    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity A")
    at = start(operator="AG")
    open_page(at, PAGES["mr-snr"]).run()
    files = [shared_file("hazen", "snr", "Philips", n) for n in ("Philips_IM-0011-0005.dcm", "Philips_IM-0011-0006.dcm")]
    at.file_uploader(key="mr-snr_upload").set_value([(p.name, p.read_bytes(), "application/dicom") for p in files]).run()
    clean(at, "upload")
    table = at.dataframe[0].value
    assert any("différence" in str(v) for v in table.iloc[:, 0]) or len(table) >= 2
    at.button(key="mr-snr_save").click().run()
    clean(at, "save")
    assert at.success
    with open_store(qc_data_dir) as s:
        assert s.counts()["sessions"] >= 1


def test_bad_file_gives_one_sentence(qc_data_dir):
    at = start()
    open_page(at, PAGES["mr-ghosting"]).run()
    at.file_uploader(key="mr-ghosting_upload").set_value(("notes.txt", b"hello", "text/plain")).run()
    assert not at.exception
    errors = [e.value.replace("\\", "") for e in at.error]
    assert len(errors) == 1 and "notes.txt" in errors[0] and "Aucune image IRM" in errors[0]


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_image_quality_page_runs_every_measure_with_rois(lang, qc_data_dir):
    at = start(lang)
    open_page(at, "mr-image").run()
    clean(at, "mr_image")
    at.button(key="mr_image_demo").click().run()
    clean(at, "mr_image demo")
    assert len(at.tabs) >= 3
    assert len(at.dataframe) >= 3 and len(at.get("image")) >= 3


def test_image_quality_page_real_series_saves_each_measure_as_its_test(qc_data_dir):
    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity A")
    at = start(operator="AG")
    open_page(at, "mr-image").run()
    p = shared_file("hazen", "uniformity", "axial_oil.IMA")
    at.file_uploader(key="mr_image_upload").set_value([(p.name, p.read_bytes(), "application/dicom")]).run()
    clean(at, "upload")
    at.button(key="mr_image_mr-uniformity_save").click().run()
    clean(at, "save")
    # The same file feeds the other measures: saving ghosting too is not blocked as a duplicate...
    at.button(key="mr_image_mr-ghosting_save").click().run()
    clean(at, "save ghosting")
    with open_store(qc_data_dir) as s:
        assert s.counts()["sessions"] == 2
    # ...but the same measure of the same file again is.
    at2 = start(operator="AG")
    open_page(at2, "mr-image").run()
    at2.file_uploader(key="mr_image_upload").set_value([(p.name, p.read_bytes(), "application/dicom")]).run()
    assert [b for b in at2.button if b.key == "mr_image_mr-uniformity_save"][0].disabled


def test_image_quality_page_bad_upload_one_sentence_per_measure(qc_data_dir):
    at = start()
    open_page(at, "mr-image").run()
    at.file_uploader(key="mr_image_upload").set_value(("notes.txt", b"hello", "text/plain")).run()
    assert not at.exception
    errors = [e.value.replace("\\", "") for e in at.error]
    assert errors and all("notes.txt" in e for e in errors)


def test_image_quality_page_opens_on_the_acr_verdict_with_a_real_acr_set(qc_data_dir):
    """Issue #28: with an ACR set the page opened on SNR under nine warnings and a « ne s'applique pas » box. Now
    the session's verdict and each measure's verdict come first, the ACR tab is the first (the one open), the
    measures that do not apply are one folded line and the warnings of a measure are grouped with their count."""
    folder = shared_file("hazen", "acr", "Siemens")
    files = [(p.name, p.read_bytes(), "application/dicom") for p in sorted(folder.glob("*.dcm"))]
    at = start()
    open_page(at, "mr-image").run()
    at.file_uploader(key="mr_image_upload").set_value(files).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not [x.value for x in at.info if "ne s'applique pas" in x.value]  # no box above the verdict
    summary = [x.value for x in list(at.error) + list(at.warning) + list(at.success) if "Verdict de la séance" in x.value]
    assert len(summary) == 1
    lines = [m.value for m in at.markdown if "Par mesure" in m.value]
    # The ACR analysis alone judges an ACR set: the generic measures (made for other phantoms: on this set they
    # failed uniformity, thickness and geometry on the inserts and wedges) are not run and say why.
    assert len(lines) == 1 and "fantôme ACR" in lines[0] and "rapport signal sur bruit" not in lines[0], lines
    assert [t.label for t in at.tabs] and all(t.label.endswith("fantôme ACR") for t in at.tabs), [t.label for t in at.tabs]
    labels = [e.label for e in at.expander]
    assert any(label.startswith("Ne s'applique pas à ces images") for label in labels), labels
    assert sum("Série du fantôme ACR" in c.value for c in at.caption) == 6, [c.value for c in at.caption]
