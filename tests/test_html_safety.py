"""Text from outside the app (DICOM headers, upload names) is shown as text, never rendered as
HTML or markdown; and an upload's name cannot place a stored file outside the data folder.

* `qc.textsafe.md_escape`: exact escapes, and an independent CommonMark decoder gets the original
  back for every printable ASCII character and the hostile payloads.
* In chromium against a real `streamlit run` (marked `browser`): escaped payloads in st.caption,
  st.markdown and st.warning show exactly the payload, with no link, bold, image or HTML element.
* Streamlit AppTest on the MVIC-Champ page: a DICOM whose StationName / PatientName holds
  `<script>alert(1)</script>` or `**bold** [link](http://x)` must not reach a markdown-rendering
  element (caption, markdown, alerts, titles) unescaped.
"""

from __future__ import annotations

import hashlib
import html
import io
import os
import re
import socket
import string
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import pytest

from conftest import REPO
from pages_nav import open_page
from qc.textsafe import WORD_JOINER, md_escape

PAYLOADS = [
    "<script>alert(1)</script>",
    "**bold** [link](http://x)",
    "<img src=x onerror=alert(1)>",
    "![img](http://x/i.png) www.evil.com a@b.co https://x.org/?a=1&b=2",
    ":red[rouge] :material/home: $x^2$ `code` ~~barré~~ | a | b |",
    "# titre\n- item\n1. un\n> cité",
    "    bloc indenté",
    "a & b &amp; &lt; \\* \\\\ [x]: http://y",
]


# ---------------------------------------------------------------- md_escape: exact output


def test_md_escape_exact_outputs():
    assert md_escape("<script>alert(1)</script>") == "&lt;script&gt;alert\\(1\\)&lt;\\/script&gt;"
    assert md_escape("**bold** [link](http://x)") == "\\*\\*bold\\*\\* \\[link\\]\\(http" + WORD_JOINER + "\\:\\/\\/x\\)"
    assert md_escape("a & b") == "a &amp; b"
    assert md_escape("UNITY-01_MVIC") == "UNITY\\-01\\_MVIC"
    assert md_escape("Élodie Martin") == "Élodie Martin"  # letters, digits, spaces, accents: untouched
    assert md_escape(None) == "" and md_escape(12.5) == "12\\.5"
    assert md_escape("ligne 1\nligne 2") == "ligne 1 ligne 2"
    assert md_escape("ligne 1\r\n- ligne 2", multiline=True) == "ligne 1  \n\\- ligne 2"
    assert md_escape("    code") == "&#32;&#32;&#32;&#32;code"
    assert md_escape("www.x.fr a@b.co") == "www" + WORD_JOINER + "\\.x\\.fr a" + WORD_JOINER + "\\@b\\.co"


def test_md_escape_leaves_no_active_markdown_character():
    for text in PAYLOADS + [string.printable]:
        out = md_escape(text)
        assert not re.search(r"[<>]", out)
        # Every & starts one of the entities md_escape writes.
        assert re.sub(r"&(amp|lt|gt|#32|#9);", "", out).count("&") == 0
        # Every other ASCII punctuation character is preceded by a backslash (the entities' ; and # aside).
        body = re.sub(r"&(amp|lt|gt|#32|#9);", "", out)
        i = 0
        while i < len(body):
            c = body[i]
            if c == "\\":
                assert i + 1 < len(body) and body[i + 1] in string.punctuation, (text, body[i : i + 2])
                i += 2
                continue
            assert c not in string.punctuation, (text, c)
            i += 1


def _commonmark_inline_text(md: str) -> str:
    """The text a CommonMark renderer shows for inline content made only of escapes, entities and
    plain characters (spec §2.4, §2.5; hard breaks as "\\n"), written independently of md_escape."""
    md = md.replace("  \n", "\n")
    out, i = [], 0
    while i < len(md):
        if md[i] == "\\" and i + 1 < len(md) and md[i + 1] in string.punctuation:
            out.append(md[i + 1])
            i += 2
        elif md[i] == "&":
            j = md.index(";", i)
            out.append(html.unescape(md[i : j + 1]))
            i = j + 1
        else:
            out.append(md[i])
            i += 1
    return "".join(out).replace(WORD_JOINER, "")


@pytest.mark.parametrize("text", PAYLOADS + [string.printable.strip(), "x" * 3 + "\\", "&&&<<>>"])
def test_md_escape_shows_the_original_text(text):
    assert _commonmark_inline_text(md_escape(text, multiline=True)) == text.replace("\r\n", "\n")
    assert _commonmark_inline_text(md_escape(text)) == re.sub(r"\r\n|\r|\n", " ", text)


# ---------------------------------------------------------------- real rendering in chromium


BROWSER_APP = """
import json, sys
sys.path.insert(0, {repo!r})
import streamlit as st
from qc.textsafe import md_escape
for i, p in enumerate(json.loads({payloads!r})):
    with st.container(key=f"cap{{i}}"):
        st.caption(md_escape(p, multiline=True))
    with st.container(key=f"md{{i}}"):
        st.markdown("StationName : " + md_escape(p, multiline=True))
    with st.container(key=f"warn{{i}}"):
        st.warning(md_escape(p))
"""


@pytest.mark.browser
def test_escaped_payloads_render_as_plain_text_in_chromium(tmp_path):
    import json

    chromium = "/usr/bin/chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or not Path(chromium).exists():
        if os.environ.get("QC_REQUIRE_BROWSER") == "1":
            pytest.fail("browser test required but chromium or playwright is missing")
        pytest.skip("needs Debian chromium (/usr/bin/chromium) and playwright")
    app = tmp_path / "render.py"
    app.write_text(BROWSER_APP.format(repo=str(REPO), payloads=json.dumps(PAYLOADS)))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        end = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > end or proc.poll() is not None:
                    pytest.fail("streamlit did not start")
                time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}")
            page.locator(f".st-key-warn{len(PAYLOADS) - 1}").wait_for(timeout=30000)
            for i, payload in enumerate(PAYLOADS):
                for kind, prefix, shown in (("cap", "", payload), ("md", "StationName : ", payload),
                                            ("warn", "", re.sub(r"\n", " ", payload))):
                    box = page.locator(f".st-key-{kind}{i} :is([data-testid='stMarkdownContainer'], [data-testid='stCaptionContainer'])").first
                    text = box.inner_text().replace(WORD_JOINER, "")
                    inner = box.inner_html()
                    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", inner))
                    assert tags <= {"p", "br", "div", "span"}, (kind, payload, tags)
                    # Browsers collapse runs of spaces in innerText; compare with whitespace normalised.
                    assert " ".join(text.split()) == " ".join((prefix + shown).split()), (kind, payload, text)
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# ---------------------------------------------------------------- the field page with a hostile DICOM header


def _hostile_field_dicom(station: str, patient: str) -> bytes:
    import pydicom

    from qc.synthetic.field import field_image

    data, _ = field_image(150.0, 80.0)
    with warnings.catch_warnings():
        # Longer than the 16 characters VR SH allows: a malformed header is exactly what may arrive.
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(data))
        ds.StationName = station
        ds.PatientName = patient
        out = io.BytesIO()
        ds.save_as(out)
    return out.getvalue()


MARKDOWN_ELEMENTS = ("caption", "markdown", "title", "header", "subheader", "warning", "info", "error", "success")


def _markdown_bodies(at) -> list[tuple[str, str]]:
    """(element type, body) of every element whose body Streamlit renders as markdown."""
    out = []
    for kind in MARKDOWN_ELEMENTS:
        for el in getattr(at, kind):
            out.append((kind, str(el.value)))
    return out


@pytest.mark.parametrize("payload", ["<script>alert(1)</script>", "**bold** [link](http://x)"])
def test_field_page_shows_dicom_header_text_escaped(payload, qc_data_dir):
    """Fails while pages/common.py `show_analysis` writes the raw StationName into st.caption."""
    from streamlit.testing.v1 import AppTest

    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity T", "UNITY-T", "T-0001")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["lang"] = "fr"
    at.session_state["operator"] = "Testeur"
    at.run()
    open_page(at, "field").run()
    name = "MVIC_150x80.dcm"
    at.file_uploader(key="field_upload").set_value((name, _hostile_field_dicom(payload, payload), "application/dicom")).run()
    assert not at.exception, [e.value for e in at.exception]
    bodies = _markdown_bodies(at)
    assert any("station :" in body for _, body in bodies), "the acquisition caption is expected on the page"
    raw = [(kind, body) for kind, body in bodies if payload in body]
    assert raw == [], (
        f"DICOM header text reaches markdown unescaped in {[k for k, _ in raw]}: {raw[:1]} — "
        "wrap it with qc.textsafe.md_escape (pages/common.py show_analysis: station=md_escape(r.station_name))"
    )
    # Shown, escaped, where the station is named.
    assert any(md_escape(payload) in body for kind, body in bodies if "station :" in body)


# ---------------------------------------------------------------- stored file names cannot escape the data folder


@pytest.mark.parametrize("filename", ["../../x", "../../../etc/passwd", "/abs/path.dcm", "..\\..\\win.dcm", "a/../../b.dcm"])
def test_stored_upload_name_cannot_leave_the_files_folder(filename, store, machine, qc_data_dir):
    from qc import pipeline
    from qc.records.logged import COUCH
    from qc.results import InputFile

    before = {p for p in qc_data_dir.parent.rglob("*")}
    data = f"fake dicom for {filename}".encode() * 20
    a = pipeline.record_logged(store, COUCH.to_spec(), machine, {"couch_readout_1_cm": "17,5", "couch_readout_2_cm": "21,5"},
                               acquired_at=__import__("datetime").datetime(2026, 1, 2, 8, 0))
    sha = hashlib.sha256(data).hexdigest()
    a.result.files = [InputFile(filename=filename, sha256=sha, size=len(data), data=data)]
    sid = pipeline.store_analysis(store, a, operator="t")
    [row] = store.session(sid)["files"]
    assert row["filename"] == filename  # the name is kept as given, for the record
    assert row["stored_path"] == f"files/{sha[:2]}/{sha}"
    target = (qc_data_dir / row["stored_path"]).resolve()
    assert (qc_data_dir / "files").resolve() in target.parents and target.read_bytes() == data
    new = {p for p in qc_data_dir.parent.rglob("*")} - before
    outside = [p for p in new if qc_data_dir.resolve() not in p.resolve().parents]
    assert outside == []
    assert not (qc_data_dir.parent / "x").exists() and not (qc_data_dir.parent.parent / "x").exists()
    assert store.file_bytes(row["stored_path"]) == data
    # Reading back refuses a path that leaves the data folder (a tampered stored_path).
    assert store.file_bytes("../" * 6 + "etc/passwd") is None
