"""No internals on screen or in exports: every page (walked from the test registry, so pages added
later are covered), in French and in English, with a result on each test page and the detail of a
stored session of each test, plus the text of a monthly and a session PDF and the CSV header, is
scanned for raw identifiers: snake_case words, lower-case column names, `None`/`nan`, the status
codes `pass`/`fail`/`warning`/`none` as words, counts printed with ".000", and citations of the
internal developer file `domain.md`.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1 import element_tree as et

from conftest import REPO
from pages_nav import open_page

APP = str(REPO / "app.py")

SNAKE = re.compile(r"(?<![\w./-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w.(-])")
PATHLIKE = re.compile(r"\S*[/\\]\S*")
FREE_TEXT_BAD = [
    (re.compile(r"domain\.md"), "domain.md citation"),
    (re.compile(r"\bNone\b"), "None"),
    (re.compile(r"\b(?:nan|NaN|NaT)\b"), "nan"),
    (re.compile(r"\b\d+[.,]000\b(?!\s*(?:mm|%|ms|cm|px|°))"), "integer printed with .000"),
    (re.compile(r"\b\d+[.,]\d*00000\b"), "number with 5+ trailing zeros"),
]
STATUS_CODES = re.compile(r"(?<![\w-])(pass|fail|warning|none)(?![\w-])")
RAW_CELLS = {"None", "nan", "NaN", "NaT", "pass", "fail", "warning", "none", "True", "False", "unmeasured"}
LOWER_COLUMN = re.compile(r"^[a-z][a-z0-9_]*$")


def problems_in_text(text: str, where: str, lang: str, status_words: bool = True) -> list[str]:
    """Raw identifiers in a piece of visible text (paths and file names are not words)."""
    out = []
    clean = PATHLIKE.sub(" ", text)
    clean = re.sub(r"\S+\.(?:dcm|htm|html|zip|csv|pdf|IMA|xlsx)\b", " ", clean)
    for pattern, what in FREE_TEXT_BAD:
        if pattern.search(text):
            out.append(f"{where}: {what} in {text[:160]!r}")
    m = SNAKE.search(clean)
    if m:
        out.append(f"{where}: snake_case {m.group(0)!r} in {text[:160]!r}")
    if status_words and lang == "fr":
        m = STATUS_CODES.search(clean)
        if m:
            out.append(f"{where}: status code {m.group(0)!r} in {text[:160]!r}")
    return out


def problems_in_frame(df: pd.DataFrame, where: str, lang: str) -> list[str]:
    out = []
    names = list(df.columns) + [n for n in (df.index.names or []) if n is not None]
    for c in names:
        if LOWER_COLUMN.match(str(c)):
            out.append(f"{where}: raw column name {c!r}")
    for c in df.columns:
        for v in df[c].tolist():
            if v is None or (isinstance(v, float) and v != v):
                out.append(f"{where}: empty cell shown as None/nan in column {c!r}")
                break
            text = str(v)
            bare = text.lstrip("✔⚠✖– ").strip()
            if bare in RAW_CELLS:
                out.append(f"{where}: raw cell {text!r} in column {c!r}")
                break
            found = problems_in_text(text, f"{where} [{c}]", lang, status_words=False)
            if found:
                out += found[:1]
                break
    return out


def visible_problems(at: AppTest, where: str, lang: str) -> list[str]:
    """Walk every node of the rendered page and check what a user reads."""
    out: list[str] = []
    texts: list[str] = []
    for node in at._tree:
        if isinstance(node, et.Dataframe):
            # An editable table (Settings' definition editors) shows empty numeric cells blank.
            editable = bool(getattr(getattr(node, "proto", None), "editing_mode", 0))
            frame = node.value
            if editable:  # blanks for empty numbers, check boxes for booleans
                frame = frame.astype(object).map(lambda v: "" if v is None or isinstance(v, bool) or v != v else v)
            out += problems_in_frame(frame, where, lang)
        elif isinstance(node, (et.Title, et.Header, et.Subheader, et.Markdown, et.Caption, et.Text, et.Info, et.Warning, et.Error, et.Success)):
            texts.append(str(node.value))
        elif isinstance(node, et.Metric):
            texts += [str(node.label), str(node.value)]
        elif isinstance(node, (et.Selectbox, et.Radio, et.Multiselect)):
            texts.append(str(node.label))
            for o in node.options:
                texts.append(str(o))
                if str(o) in RAW_CELLS:
                    out.append(f"{where}: raw option {o!r} in {node.label!r}")
        elif isinstance(node, (et.Button, et.DownloadButton, et.Checkbox, et.Toggle, et.TextInput, et.TextArea, et.NumberInput,
                               et.DateInput, et.TimeInput, et.Expander, et.Tab, et.PageLink)):
            texts.append(str(getattr(node, "label", "")))
    for text in texts:
        out += problems_in_text(text, where, lang)
    return out


@pytest.fixture(scope="module")
def small_demo(demo_template) -> Path:
    """The demo database of the test run (every test has sessions; built once in conftest, copied by the tests)."""
    return demo_template


def start(lang: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["lang"] = lang
    at.session_state["operator"] = "Scan"
    return at.run()


def go_to_test(at: AppTest, machine_id: int, key: str) -> AppTest:
    at.switch_page("pages/home.py").run()
    at.button(key=f"go_{machine_id}_{key}").click().run()
    return at


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_page_shows_no_internal_identifier(lang, small_demo, qc_data_dir):
    from qc.records.storage import open_store
    from qc.registry import all_tests

    shutil.copytree(small_demo, qc_data_dir, dirs_exist_ok=True)
    with open_store(qc_data_dir) as s:
        specs = all_tests(s)
        machine_id = s.machines()[0]["id"]
        last_session = {spec.key: int(g.iloc[0]["id"]) for spec in specs
                        for g in [s.sessions_frame(machine_id=machine_id, test=spec.key)] if len(g)}
        # one session received automatically, waiting for review, and one object that could not be routed
        import datetime as dt

        from qc.intake import inbox
        from qc.synthetic.mlc import demo_session_slits

        for _n, data in demo_session_slits(dt.datetime.now().replace(microsecond=0), seed=3):
            inbox.accept_object(s, data, "DICOM UNITY1@10.0.0.5")
        inbox.process_inbox(s)
    problems: list[str] = []
    at = start(lang)
    assert not at.exception, [e.value for e in at.exception]
    problems += visible_problems(at, "home", lang)
    # Every test page of the registry, with a result: the demo input of image/report tests.
    for spec in specs:
        go_to_test(at, machine_id, spec.key)
        assert not at.exception, (spec.key, [e.value for e in at.exception])
        demo = [b for b in at.button if b.key == f"{spec.key}_demo"]
        if demo and not demo[0].disabled:
            demo[0].click().run()
            assert not at.exception, (spec.key, [e.value for e in at.exception])
        problems += visible_problems(at, f"page {spec.key}", lang)
    # History of every test, and the detail of its latest stored session.
    at.switch_page("pages/history.py").run()
    for spec in specs:
        at.selectbox(key="hist_test").set_value(spec.key).run()
        problems += visible_problems(at, f"history {spec.key}", lang)
    for key, sid in last_session.items():
        at.query_params["session"] = str(sid)
        at.run()
        assert not at.exception, (key, [e.value for e in at.exception])
        problems += visible_problems(at, f"session {key} #{sid}", lang)
    del at.query_params["session"]
    at.switch_page("pages/reports.py").run()
    problems += visible_problems(at, "reports", lang)
    at.switch_page("pages/settings.py").run()
    for spec in specs:
        at.selectbox(key="set_tol_test").set_value(spec.key).run()
        problems += visible_problems(at, f"settings tolerances {spec.key}", lang)
    # Pages outside the registry: the review queue, the viewer, the MR study pages.
    for page in ("pages/review.py", "pages/viewer.py", "mr-image", "mr-linac"):
        open_page(at, page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        problems += visible_problems(at, page, lang)
    assert not problems, "\n".join(dict.fromkeys(problems))


def test_pdfs_and_csv_header_show_no_internal_identifier(small_demo, qc_data_dir):
    from pypdf_text import pdf_text

    from qc.records.export import export_metrics
    from qc.records.storage import open_store
    from qc.registry import all_tests
    from qc.reporting.report import monthly_report_pdf, session_report_pdf

    shutil.copytree(small_demo, qc_data_dir, dirs_exist_ok=True)
    problems: list[str] = []
    with open_store(qc_data_dir) as s:
        machine_id = s.machines()[0]["id"]
        sessions = s.sessions_frame(machine_id=machine_id)
        month = str(sessions["acquired_at"].max())[:7]
        for lang in ("fr", "en"):
            text = pdf_text(monthly_report_pdf(s, machine_id, month, lang=lang, generated_by="Scan"))
            for line in text.splitlines():
                problems += problems_in_text(line, f"monthly PDF {lang}", lang)
        for spec in all_tests(s):
            g = sessions[sessions["test"] == spec.key]
            if len(g):
                text = pdf_text(session_report_pdf(s, int(g.iloc[0]["id"]), "fr"))
                for line in text.splitlines():
                    problems += problems_in_text(line, f"session PDF {spec.key}", "fr")
        for lang in ("fr", "en"):
            header = export_metrics(s, lang=lang).decode("utf-8-sig").splitlines()[0]
            sep = ";" if lang == "fr" else ","
            for name in header.split(sep):
                if LOWER_COLUMN.match(name.strip('"')):
                    problems.append(f"CSV {lang}: raw column {name!r}")
    assert not problems, "\n".join(dict.fromkeys(problems))


def test_the_scan_catches_what_it_is_meant_to():
    """The checks themselves: each kind of internal leak is caught, clean French text is not."""
    assert problems_in_text("Tolérance basse : None", "x", "fr")
    assert problems_in_text("Département ±2 mm (domain.md §9)", "x", "fr")
    assert problems_in_text("statut pass", "x", "fr")
    assert problems_in_text("colonne tol_low", "x", "fr")
    assert problems_in_text("336.000 valeurs", "x", "fr")
    assert not problems_in_text("Écart X = 0,12 mm — Conforme ; fichier MVIC_1_150x80.dcm ; dossier /tmp/qc_data", "x", "fr")
    assert problems_in_frame(pd.DataFrame({"station_name": ["a"]}), "x", "fr")
    assert problems_in_frame(pd.DataFrame({"Statut": ["✔ pass"]}), "x", "fr")
    assert problems_in_frame(pd.DataFrame({"Valeur": [None]}), "x", "fr")
    assert not problems_in_frame(pd.DataFrame({"Statut": ["✔ Conforme"], "Valeur": ["1,25"]}), "x", "fr")
