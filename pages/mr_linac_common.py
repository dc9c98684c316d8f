"""Shared pieces of the MR-Linac MRI QA pages (not a page itself): analyse with a progress bar, and the
one-test page (upload or demo → analyse → show → save) used by the four test pages.

Pages only gather input, call `qc`, show the result and store it; all numbers come from `qc`.
"""

from __future__ import annotations

from typing import Callable

import streamlit as st

from pages.common import (
    T,
    _inputs_key,
    get_store,
    lang,
    machine_selector,
    save_block,
    show_analysis,
)
from qc import pipeline
from qc.errors import QCInputError
from qc.textsafe import md_escape


def analyse_with_progress(store, spec, inputs, machine) -> pipeline.Analysis:
    """Run the analyser with a progress bar (the 3-D volume reports its reading and detection)."""
    bar = st.progress(0.0, text=T("mrl.page.analysing", test=spec.name(lang())))

    def progress(fraction: float, text: str) -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=text)

    try:
        return pipeline.analyse(store, spec, inputs, machine, lang(), options={"progress": progress})
    finally:
        bar.empty()


def widget_prefix(test_key: str) -> str:
    return test_key.replace("-", "_")


def cached_analysis(store, spec, inputs, machine, prefix: str) -> pipeline.Analysis | None:
    """The analysis of these inputs (kept in the session while they do not change); None after an error shown."""
    cache_key = _inputs_key(inputs, machine)
    cached = st.session_state.get(f"{prefix}_analysis")
    if cached is not None and cached[0] == cache_key:
        return cached[1]
    st.session_state.pop(f"{prefix}_saved", None)
    try:
        analysis = analyse_with_progress(store, spec, inputs, machine)
    except QCInputError as exc:
        st.session_state.pop(f"{prefix}_analysis", None)
        st.error(md_escape(exc.message(lang())), icon=":material/error:")
        return None
    st.session_state[f"{prefix}_analysis"] = (cache_key, analysis)
    return analysis


def charts_extra(module) -> Callable[[pipeline.Analysis], None] | None:
    if not hasattr(module, "charts"):
        return None

    def show(analysis: pipeline.Analysis) -> None:
        for _title, chart in module.charts(analysis.result, lang()):
            st.altair_chart(chart, width="stretch")

    return show


def mr_test_page(key: str, module) -> None:
    """Upload (or demo) → analyse with progress → show → save, for one MR-Linac MRI QA test."""
    from qc.demo_inputs import demo_inputs_for
    from qc.registry import get_test

    store = get_store()
    spec = get_test(key, store)
    prefix = widget_prefix(key)
    st.title(spec.name(lang()))
    st.caption(f"{T('freq.' + spec.frequency)} — {spec.description(lang())}")
    st.page_link("pages/mr_linac.py", label=T("mrl.page.title"), icon=":material/folder_open:")
    machine = machine_selector(store, key=f"{prefix}_machine")
    types = [x.strip().lstrip(".") for x in spec.accepts.split(",") if x.strip()]
    uploads = st.file_uploader(T("ui.upload", types=", ".join(types)), accept_multiple_files=True, key=f"{prefix}_upload")
    make_demo = demo_inputs_for(spec.key)
    if st.button(T("ui.try_demo"), key=f"{prefix}_demo", icon=":material/science:", disabled=make_demo is None):
        with st.spinner(T("ui.making_demo")):
            st.session_state[f"{prefix}_demo_inputs"] = make_demo()
        st.session_state.pop(f"{prefix}_saved", None)
    inputs: list[tuple[str, bytes]] = []
    if uploads:
        inputs = [(u.name, u.getvalue()) for u in uploads]
        st.session_state.pop(f"{prefix}_demo_inputs", None)
    elif st.session_state.get(f"{prefix}_demo_inputs"):
        inputs = st.session_state[f"{prefix}_demo_inputs"]
        st.caption(T("ui.using_demo", n=len(inputs)))
    if not inputs:
        st.info(T("ui.waiting_upload"))
        return
    analysis = cached_analysis(store, spec, inputs, machine, prefix)
    if analysis is None:
        return
    show_analysis(analysis, charts_extra(module))
    st.divider()
    save_block(store, analysis, prefix)
