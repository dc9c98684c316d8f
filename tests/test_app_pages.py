"""Every page renders without exception, in French and English, on an empty and on the demo database;
and the main user paths work through Streamlit's AppTest."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO, blank_rt_image
from pages_nav import image_test_keys, open_page

APP = str(REPO / "app.py")
STATIC_PAGES = ["pages/home.py", "pages/history.py", "pages/reports.py", "pages/settings.py", "pages/logged.py", "pages/review.py", "pages/viewer.py"]


@pytest.fixture(scope="session")
def demo_db(demo_template) -> Path:
    """The demo database of the test run (built once in conftest), copied into each test that needs it."""
    return demo_template


def use_demo(demo_db: Path, qc_data_dir: Path) -> None:
    shutil.copytree(demo_db, qc_data_dir, dirs_exist_ok=True)


def start(lang: str = "fr", operator: str = "") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["lang"] = lang
    if operator:
        at.session_state["operator"] = operator
    return at.run()


def image_pages() -> list[str]:
    """The URL paths of the image/report tests' pages (function pages made from the registry) and of the MR study
    pages."""
    return image_test_keys() + ["mr-image", "mr-linac"]


def assert_clean(at: AppTest, where: str) -> None:
    assert not at.exception, f"{where}: {[e.value for e in at.exception]}"
    errors = [e.value for e in at.error]
    assert not errors, f"{where}: error boxes {errors}"


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("db", ["empty", "demo"])
def test_every_page_renders(lang, db, demo_db, qc_data_dir):
    if db == "demo":
        use_demo(demo_db, qc_data_dir)
    at = start(lang)
    assert_clean(at, "home")
    for page in STATIC_PAGES + image_pages():
        open_page(at, page).run()
        assert_clean(at, page)
        assert at.title, f"{page} shows no title"
    titles_en = {"fr": "Historique", "en": "History"}
    at.switch_page("pages/history.py").run()
    assert at.title[0].value == titles_en[lang]


def test_demo_database_is_marked_as_demo(demo_db, qc_data_dir):
    use_demo(demo_db, qc_data_dir)
    at = start()
    assert any("DÉMONSTRATION" in i.value for i in at.info)


def test_logged_entry_stores_one_session_and_home_shows_it_done(qc_data_dir):
    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity A")
    at = start(operator="AG")
    at.button(key="go_1_couch").click().run()
    assert at.title[0].value == "Position table"
    at.text_input(key="log_couch_couch_readout_1_cm").input("17,5").run()
    at.text_input(key="log_couch_couch_readout_2_cm").input("21,62").run()
    assert_clean(at, "couch form")
    assert any("Conforme" in s.value for s in at.success)  # +1.2 mm: pass (tolerance ±1.5 mm)
    at.button(key="log_couch_save").click().run()
    assert any("séance n° 1" in s.value for s in at.success)
    with open_store(qc_data_dir) as s:
        assert s.db["sessions"].count == 1
        m = {r["name"]: r["value"] for r in s.session(1)["metrics"]}
        assert m["couch_deviation_mm"] == pytest.approx(1.2)
    at.switch_page("pages/home.py").run()
    table = at.dataframe[0].value
    row = table[table["Test"] == "Position table"].iloc[0]
    assert row["Dernier"] == dt.date.today().isoformat() and "Conforme" in row["Résultat"]


def test_impossible_value_is_refused_in_the_form_and_nothing_stored(qc_data_dir):
    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity A")
    at = start(operator="AG")
    at.button(key="go_1_helium").click().run()
    at.text_input(key="log_helium_helium_level_pct").input("120").run()
    assert any("impossible" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "log_helium_save"]
    with open_store(qc_data_dir) as s:
        assert s.db["sessions"].count == 0


def test_save_requires_an_operator(qc_data_dir):
    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity A")
    at = start()
    at.button(key="go_1_laser").click().run()
    for pos, v in (("proximal", "0,5"), ("central", "0"), ("distal", "-0,4")):
        at.text_input(key=f"log_laser_laser_{pos}_mm").input(v).run()
    at.button(key="log_laser_save").click().run()
    assert any("opérateur" in e.value for e in at.error)


def test_voiding_a_session_in_history_hides_it_and_is_audited(qc_data_dir):
    from qc import pipeline
    from qc.registry import get_test
    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        mid = s.add_machine("Unity A")
        m = s.machine(mid)
        for i, v in enumerate(("0,4", "2,6")):
            a = pipeline.record_logged(s, get_test("laser", s), m, {"laser_proximal_mm": v, "laser_central_mm": "0", "laser_distal_mm": "0"},
                                       acquired_at=dt.datetime.now() - dt.timedelta(days=10 - i))
            pipeline.store_analysis(s, a, operator="AG")
    at = start(operator="MB")
    at.switch_page("pages/history.py").run()
    at.selectbox(key="hist_test").set_value("laser").run()
    assert at.dataframe[0].value["Séance"].nunique() == 2
    at.query_params["session"] = "2"
    at.run()
    at.text_input(key="hist_void_reason").input("marqueur mal placé")
    at.button[[b.key for b in at.button].index("FormSubmitter:hist_void_form-Annuler la séance")].click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Séance ANNULÉE : marqueur mal placé (MB, " + at.error[0].value.split("(MB, ")[1]]
    with open_store(qc_data_dir) as s:
        assert s.session(2)["voided"] == 1
        assert s.audit_frame().iloc[0]["action"] == "void_session"
    del at.query_params["session"]
    at.run()
    assert at.dataframe[0].value["Séance"].nunique() == 1  # hidden from the default view
    at.toggle(key="hist_voided").set_value(True).run()
    assert at.dataframe[0].value["Séance"].nunique() == 2


def test_a_session_is_opened_from_history_by_its_list(qc_data_dir):
    """Issue #28: the table is a canvas a browser test cannot click; « Ouvrir une séance » lists the table's
    sessions and opens the chosen one's detail under it, its number in the address (a link to keep)."""
    from qc import pipeline
    from qc.registry import get_test
    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        m = s.machine(s.add_machine("Unity A"))
        for i, v in enumerate(("0,4", "2,6")):
            a = pipeline.record_logged(s, get_test("laser", s), m, {"laser_proximal_mm": v, "laser_central_mm": "0", "laser_distal_mm": "0"},
                                       acquired_at=dt.datetime.now() - dt.timedelta(days=10 - i))
            pipeline.store_analysis(s, a, operator="AG")
    at = start(operator="MB")
    at.switch_page("pages/history.py").run()
    at.selectbox(key="hist_test").set_value("laser").run()
    pick = at.selectbox(key="hist_pick")
    assert sorted(o.split(" — ")[0] for o in pick.options) == ["Séance n° 1", "Séance n° 2"]
    assert all(o.endswith(" — Unity A") for o in pick.options)
    assert not [h.value for h in at.subheader if h.value.startswith("Séance n°")]
    pick.set_value(2).run()
    assert not at.exception
    assert [h.value for h in at.subheader if h.value.startswith("Séance n°")] == ["Séance n° 2 — Alignement laser"]
    assert at.query_params["session"] == "2"
    assert [b for b in at.button if b.key == "hist_make_pdf"]


def test_history_filters_change_the_table(demo_db, qc_data_dir):
    use_demo(demo_db, qc_data_dir)
    at = start()
    at.switch_page("pages/history.py").run()
    at.selectbox(key="hist_test").set_value("helium").run()
    all_rows = len(at.dataframe[0].value)
    at.multiselect(key="hist_status").set_value(["fail"]).run()
    failing = at.dataframe[0].value if at.dataframe else None
    assert failing is not None and 0 < len(failing) < all_rows


def test_wrong_file_on_an_image_page_shows_an_error_and_the_app_keeps_working(qc_data_dir):
    pages = image_pages()
    if not pages:
        pytest.skip("no image test page registered")
    at = start()
    open_page(at, pages[0]).run()
    key = pages[0]
    at.file_uploader(key=f"{key}_upload").set_value(("notes.txt", b"hello", "text/plain")).run()
    assert not at.exception
    assert any("notes.txt" in e.value.replace("\\", "") for e in at.error)  # shown escaped (md_escape)
    at.switch_page("pages/home.py").run()
    assert_clean(at, "home after error")


def test_settings_new_tolerance_is_dated_and_audited(qc_data_dir):
    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity A")
    at = start(operator="PH")
    at.switch_page("pages/settings.py").run()
    at.selectbox(key="set_tol_test").set_value("couch").run()
    from qc.registry import get_test

    at.selectbox(key="set_tol_metric").set_value(get_test("couch").metric("couch_deviation_mm")).run()
    suffix = "couch_couch_deviation_mm"
    at.text_input(key=f"set_tol_th_{suffix}").input("1")
    at.text_input(key=f"set_tol_tl_{suffix}").input("-1")
    at.text_input(key=f"set_tol_comment_{suffix}").input("passage SBRT")
    submit = [b for b in at.button if "set_tol_form" in (b.key or "")][0]
    submit.click().run()
    assert_clean(at, "settings")
    with open_store(qc_data_dir) as s:
        tol = s.tolerance_for("couch", "couch_deviation_mm", None, dt.datetime.now() + dt.timedelta(days=1))
        assert (tol.tol_low, tol.tol_high) == (-1.0, 1.0)
        row = s.audit_frame().iloc[0]
        assert row["action"] == "set_tolerance" and row["user"] == "PH"


def test_bad_inputs_on_the_field_page_each_get_their_own_message_and_nothing_is_stored(qc_data_dir):
    """Truncated DICOM, an MR image given to an MV test and an empty zip: a clear sentence each, in the UI."""
    import io
    import zipfile

    from conftest import shared_file
    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity A")
        before = s.counts()
    good = blank_rt_image(0.5)
    empty = io.BytesIO()
    zipfile.ZipFile(empty, "w").close()
    mr = shared_file("hazen", "uniformity", "axial_oil.IMA").read_bytes()
    at = start(operator="AG")
    open_page(at, "field").run()
    seen = {}
    for name, data in (("coupe.dcm", good[: len(good) // 3]), ("axial_oil.IMA", mr), ("vide.zip", empty.getvalue())):
        at.file_uploader(key="field_upload").set_value((name, data, "application/octet-stream")).run()
        assert not at.exception
        errors = [e.value.replace("\\", "") for e in at.error]
        assert len(errors) == 1 and name in errors[0], (name, errors)
        assert not [b for b in at.button if b.key == "field_save"]
        seen[name] = errors[0]
    assert "tronqué" in seen["coupe.dcm"] and "MR" in seen["axial_oil.IMA"] and "aucun fichier" in seen["vide.zip"]
    with open_store(qc_data_dir) as s:
        assert s.counts() == before
