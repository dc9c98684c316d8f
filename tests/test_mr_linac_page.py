"""AppTest of the MR-Linac MRI QA pages: a whole study routed to its four tests and saved test by test,
a per-test page with its demo, and a wrong upload."""

from __future__ import annotations

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO, blank_rt_image
from pages_nav import open_page

APP = str(REPO / "app.py")
WHEN = dt.datetime(2026, 11, 20, 9, 0)


@pytest.fixture(scope="module")
def study() -> list[tuple[str, bytes]]:
    from qc.synthetic import mr_linac as S

    files = S.b0_map_study(WHEN, seed=1, n=96, spacing_mm=4.7)[0]
    files += S.gantry_phase_series(WHEN, seed=2, n=96, spacing_mm=4.7)[0]
    files += S.b1_study(WHEN, seed=3, n=96, spacing_mm=4.7)[0]
    gen, _ = S.marker_phantom_series(WHEN, volume=S.VolumeSpec(rows=200, cols=200, n_slices=248, pixel_mm=1.09, slice_mm=1.5), seed=4)
    files += list(gen)
    return files + [("portal.dcm", blank_rt_image(0.5))]


def start(operator: str = "PH") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["lang"] = "fr"
    at.session_state["operator"] = operator
    return at.run()


def test_a_study_is_routed_to_the_four_tests_and_each_saved_on_its_own(qc_data_dir, study):
    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity A", "UNITY-DEMO", "DEMO-0001", user="t")
    at = start()
    at.session_state["mr_linac_demo_inputs"] = study
    open_page(at, "mr-linac").run()
    assert not at.exception, [e.value for e in at.exception]
    names = ["IRM MR-Linac : homogénéité B0", "IRM MR-Linac : B0 et angle du bras", "IRM MR-Linac : B1 (double angle)", "IRM MR-Linac : géométrie 3D"]
    headers = [h.value.split(" ", 1)[1] for h in at.header]  # each header starts with its verdict's icon
    assert sorted(headers) == sorted(names)
    # each verdict is shown (the reduced volume crops the phantom: its outer markers are listed, not judged)
    verdicts = [x.value for x in at.success] + [x.value for x in at.error] + [x.value for x in at.warning]
    assert sum("Résultat global" in v for v in verdicts) == 4
    # the verdict comes first: the session's verdict above the routing table, the worst test's section first
    summary = [v for v in verdicts if "Verdict de la séance" in v]
    assert len(summary) == 1
    order = ["✖", "⚠", "✔", "–"]
    icons = [h.value.split(" ", 1)[0] for h in at.header]
    assert icons == sorted(icons, key=order.index)
    assert any("portal.dcm" in x.value for x in at.text)
    saves = [b.key for b in at.button if (b.key or "").endswith("_save")]
    assert sorted(saves) == sorted(["mrl_mr_b0_save", "mrl_mr_b0_gantry_save", "mrl_mr_b1_save", "mrl_mr_geometry_3d_save"])
    at.button(key="mrl_mr_b0_save").click().run()
    at.button(key="mrl_mr_b1_save").click().run()
    assert not at.exception
    with open_store(qc_data_dir) as s:
        tests = sorted(r["test"] for r in s.db.query("select test from sessions"))
    assert tests == ["mr-b0", "mr-b1"]


def test_the_geometry_page_analyses_its_demo(qc_data_dir):
    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity A", "UNITY-DEMO", "DEMO-0001", user="t")
    at = start()
    open_page(at, "mr-geometry-3d").run()
    at.button(key="mr_geometry_3d_demo").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Résultat global : Conforme" in x.value for x in at.success)
    assert [b for b in at.button if b.key == "mr_geometry_3d_save"]


def test_a_wrong_file_gets_a_sentence_and_nothing_to_save(qc_data_dir):
    at = start()
    open_page(at, "mr-b0").run()
    at.file_uploader(key="mr_b0_upload").set_value(("portal.dcm", blank_rt_image(0.5), "application/dicom")).run()
    assert not at.exception
    assert len(at.error) == 1 and "portal.dcm" in at.error[0].value.replace("\\", "")
    assert not [b for b in at.button if b.key == "mr_b0_save"]


def test_a_physicist_sets_the_gantry_angles_and_they_are_stored_and_audited(qc_data_dir):
    import json

    from qc.records.storage import open_store

    at = start()
    open_page(at, "mr-b0-gantry").run()
    angles = " ; ".join(str(180 - 30 * k) for k in range(13))
    at.text_input(key="mr_b0_gantry_opt_angles").input(angles)
    at.text_input(key="mr_b0_gantry_opt_iso").input("0 ; 0 ; 2,5")
    [b for b in at.button if "mr_b0_gantry_options" in (b.key or "")][0].click().run()
    assert not at.exception and not at.error
    with open_store(qc_data_dir) as s:
        saved = json.loads(s.get_setting("options.mr-b0-gantry"))
        assert saved["gantry_angles_deg"][0] == 180 and len(saved["gantry_angles_deg"]) == 13
        assert saved["isocentre_mm"] == [0.0, 0.0, 2.5]
        assert s.audit_frame().iloc[0]["action"] == "set_setting"
    at.text_input(key="mr_b0_gantry_opt_iso").input("0 ; 0")
    [b for b in at.button if "mr_b0_gantry_options" in (b.key or "")][0].click().run()
    assert any("trois nombres" in e.value for e in at.error)
