"""The stored session is the record (issue #25): stored whole once (versions, pictures), shown from it by History,
the review queue, the viewer and the session PDF without analysing its files again; « Réanalyser » is explicit;
judged once, in the pipeline, by one rule."""

from __future__ import annotations

import datetime as dt
import sys

import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO

APP = str(REPO / "app.py")


@pytest.fixture(scope="module")
def leaves_inputs():
    from qc.demo_inputs import demo_inputs_for

    return demo_inputs_for("leaves")()


def store_leaves(qc_data_dir, inputs, review_state: str = "") -> int:
    from qc import pipeline
    from qc.records.storage import open_store
    from qc.registry import get_test

    with open_store(qc_data_dir) as s:
        mid = s.add_machine("Unity A")
        a = pipeline.analyse(s, get_test("leaves", s), inputs, s.machine(mid), "fr")
        return pipeline.store_analysis(s, a, operator="AG", review_state=review_state)


def forbid_analysis(monkeypatch) -> None:
    """Any analysis from here on fails the test: what is shown must come from the stored record."""
    from qc import pipeline

    def refuse(*_a, **_k):
        raise AssertionError("a stored session was analysed again to be shown")

    monkeypatch.setattr(pipeline, "analyse", refuse)


def remove_analyser(monkeypatch, module: str) -> None:
    """The analyser's module deleted: out of the registry's list, and importing it fails."""
    from qc import registry

    monkeypatch.setattr(registry, "TESTS", tuple(line for line in registry.TESTS if line[1] != module))
    monkeypatch.setattr(registry, "ANALYSER_MODULES", tuple(m for m in registry.ANALYSER_MODULES if m != module))
    monkeypatch.setitem(sys.modules, module, None)  # `import qc.mv.leaves` now raises ImportError


def start(operator: str = "", lang: str = "fr") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["lang"] = lang
    if operator:
        at.session_state["operator"] = operator
    return at.run()


def open_session(at: AppTest, sid: int) -> AppTest:
    at.switch_page("pages/history.py")
    at.query_params["session"] = str(sid)
    return at.run()


def n_pdf_images(pdf: bytes) -> int:
    return pdf.count(b"/Subtype /Image")


def test_a_stored_session_holds_its_versions_and_pictures(qc_data_dir, leaves_inputs):
    from qc import __version__
    from qc.mv import leaves
    from qc.records.storage import open_store

    sid = store_leaves(qc_data_dir, leaves_inputs)
    with open_store(qc_data_dir) as s:
        row = s.session(sid)
        pictures = s.session_pictures(sid)
        assert row["analyser_version"] == leaves.VERSION == leaves.SPEC.version  # the analyser's own, not the app's
        assert row["app_version"] == __version__
        assert row["record_version"] == 1
        kinds = [p["kind"] for p in pictures]
        assert kinds.count("overlay") == len(leaves_inputs)  # one overlay per image
        assert kinds.count("chart") >= 1
        for p in pictures:
            data = s.file_bytes(p["stored_path"])
            assert data is not None and len(data) == p["size"]
            assert p["stored_path"] == f"files/{p['sha256'][:2]}/{p['sha256']}"  # content-addressed store


def test_history_and_pdf_show_a_session_whose_analyser_is_gone(qc_data_dir, leaves_inputs, monkeypatch):
    from qc.records.storage import open_store
    from qc.reporting.report import session_report_pdf
    from pypdf_text import pdf_text

    sid = store_leaves(qc_data_dir, leaves_inputs)
    forbid_analysis(monkeypatch)
    remove_analyser(monkeypatch, "qc.mv.leaves")
    with pytest.raises(ImportError):
        import qc.mv.leaves  # noqa: F401
    at = open_session(start(), sid)
    assert not at.exception, [e.value for e in at.exception]
    assert any("Position des lames" in s.value for s in at.subheader)  # the stored name of the test
    assert len(at.get("image")) >= 1  # the stored overlays
    assert len(at.get("vega_lite_chart")) >= 1  # the stored charts
    assert not [i.value for i in at.info if "pas été conservés" in i.value]
    with open_store(qc_data_dir) as s:
        pdf = session_report_pdf(s, sid, "fr")
        n_pictures = len(s.session_pictures(sid))
    assert n_pdf_images(pdf) >= n_pictures
    assert "Position des lames" in pdf_text(pdf)


def test_a_session_stored_before_the_record_says_its_pictures_were_not_kept(qc_data_dir, leaves_inputs, monkeypatch):
    from qc.records.storage import open_store
    from qc.reporting.report import session_report_pdf
    from pypdf_text import pdf_text

    sid = store_leaves(qc_data_dir, leaves_inputs)
    with open_store(qc_data_dir) as s:  # as m008 leaves a session stored before it
        s.db.execute("delete from session_pictures where session_id = ?", [sid])
        s.db.execute("update sessions set record_version = null, app_version = null where id = ?", [sid])
        s.db.conn.commit()
        n_metrics = len(s.session(sid)["metrics"])
    forbid_analysis(monkeypatch)
    at = open_session(start(), sid)
    assert not at.exception, [e.value for e in at.exception]
    assert [i.value for i in at.info if "n'ont pas été conservés" in i.value]
    assert len(at.dataframe[0].value) == n_metrics  # its stored metrics are still shown
    with open_store(qc_data_dir) as s:
        text = pdf_text(session_report_pdf(s, sid, "fr"))
    assert "n'ont pas été conservés" in text.replace("\n", " ")


def test_review_confirms_the_stored_row_without_analysing_again(qc_data_dir, leaves_inputs, monkeypatch):
    from qc.records.storage import open_store

    sid = store_leaves(qc_data_dir, leaves_inputs, review_state="pending")
    forbid_analysis(monkeypatch)
    at = start(operator="MB")
    at.switch_page("pages/review.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("image")) >= 1
    assert any("Version de l'analyse : 2.1" in c.value for c in at.caption)
    at.button(key="review_confirm").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with open_store(qc_data_dir) as s:
        assert s.session(sid)["review_state"] == "confirmed"


def test_viewer_overlay_comes_from_the_stored_record(qc_data_dir, leaves_inputs, monkeypatch):
    sid = store_leaves(qc_data_dir, leaves_inputs)
    forbid_analysis(monkeypatch)
    at = start()
    at.switch_page("pages/viewer.py")
    at.query_params["session"] = str(sid)
    at.run()
    at.toggle(key="viewer_overlay").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="viewer_ov_pick").options  # the stored overlays to choose from


def test_reanalysis_shows_old_and_new_and_voids_only_on_confirmation(qc_data_dir, leaves_inputs):
    from qc.records.storage import open_store

    sid = store_leaves(qc_data_dir, leaves_inputs)
    with open_store(qc_data_dir) as s:  # as if stored by an older method with another figure
        s.db.execute("update sessions set analyser_version = '1.0' where id = ?", [sid])
        s.db.execute("update metrics set value = value + 1 where session_id = ? and name = 'max_abs_error_mm'", [sid])
        s.db.conn.commit()
    at = open_session(start(operator="MB"), sid)
    at.button(key="hist_reanalyse").click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(m.value for m in at.markdown).replace("\\", "")  # markdown escapes, as drawn
    assert "Enregistrée (version 1.0)" in shown and "Réanalyse (version 2.1)" in shown
    assert any("diffèrent" in w.value for w in at.warning)
    with open_store(qc_data_dir) as s:
        assert s.counts()["sessions"] == 1  # nothing stored before the confirmation
    at.checkbox(key="record_replace_sure").check()
    at.button[[b.key for b in at.button].index("FormSubmitter:record_replace-Enregistrer la réanalyse et annuler la séance d'origine")].click().run()
    assert not at.exception, [e.value for e in at.exception]
    with open_store(qc_data_dir) as s:
        old = s.session(sid)
        new = s.sessions_frame().iloc[0]
        assert old["voided"] == 1 and old["void_reason"].startswith("réanalysé")
        assert int(new["id"]) != sid and s.session(int(new["id"]))["analyser_version"] == "2.1"
        assert f"n° {sid}" in s.session(int(new["id"]))["comment"]


def test_an_unknown_metric_name_is_refused_when_the_result_is_judged():
    """A misspelt metric name used to be stored « Sans tolérance » for ever."""
    from qc import pipeline
    from qc.errors import QCInputError
    from qc.registry import get_test
    from qc.results import AnalysisResult, Measurement
    from qc.spec import UnknownMetricError

    spec = get_test("leaves")
    result = AnalysisResult("leaves", [Measurement("max_abs_eror_mm", 0.2, "mm")], acquired_at=dt.datetime(2026, 5, 1))
    with pytest.raises(UnknownMetricError, match="max_abs_eror_mm"):
        pipeline.judge(None, spec, result, None)

    def typo(_inputs, _ctx):
        return AnalysisResult("leaves", [Measurement("max_abs_eror_mm", 0.2, "mm")], acquired_at=dt.datetime(2026, 5, 1))

    from dataclasses import replace

    with pytest.raises(QCInputError) as info:
        pipeline.analyse(None, replace(spec, analyse=typo, kind="report"), [("x.txt", b"x")], None)
    assert info.value.key == "err.internal"
    # PIQT's report names its own parameters (judged by the report's criterion): its vocabulary is open.
    get_test("piqt").check_vocabulary(AnalysisResult("piqt", [Measurement("New_Param", 1.0)], acquired_at=dt.datetime(2026, 5, 1)))


def test_one_rule_judges_a_missing_value_whatever_the_table_holds(store, machine):
    """A metric with a default tolerance but no row in the dated table (a table seeded before the metric existed)
    is judged by its default in the pipeline as the analyser was: a missing value fails. Storage used to judge it
    again from the table alone: « Sans tolérance »."""
    from qc import pipeline
    from qc.registry import get_test
    from qc.results import AnalysisResult, Measurement

    spec = get_test("leaves")
    store.db.execute("delete from tolerances where test = 'leaves' and metric = 'max_abs_error_mm'")
    store.db.conn.commit()
    result = AnalysisResult("leaves", [Measurement("max_abs_error_mm", None, "mm")], acquired_at=dt.datetime(2026, 5, 1))
    analysis = pipeline.judge(store, spec, result, machine)
    assert analysis.judged[0].status == "fail" and analysis.judged[0].not_measured
    sid = pipeline.store_analysis(store, analysis, operator="AG")
    assert store.session(sid)["metrics"][0]["status"] == "fail"
    assert store.session(sid)["status"] == "fail"
