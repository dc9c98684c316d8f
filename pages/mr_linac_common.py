"""Shared pieces of the MR-Linac MRI QA pages (not a page itself): analyse with a progress bar, and the
one-test page (upload or demo → analyse → show → save) used by the four test pages.

Pages only gather input, call `qc`, show the result and store it; all numbers come from `qc`.
"""

from __future__ import annotations

from typing import Callable

import streamlit as st

from pages.common import (
    T,
    session_uploader,

    ask_date_after,
    given_date_for,
    _inputs_key,
    allowed,
    get_store,
    lang,
    machine_selector,
    operator,
    save_block,
    show_analysis,
)
from qc import pipeline
from qc.errors import QCInputError
from qc.textsafe import md_escape


def analyse_with_progress(store, spec, inputs, machine, acquired_at=None) -> pipeline.Analysis:
    """Run the analyser with a progress bar (the 3-D volume reports its reading and detection)."""
    bar = st.progress(0.0, text=T("mrl.page.analysing", test=spec.name(lang())))

    def progress(fraction: float, text: str) -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=text)

    try:
        return pipeline.analyse(store, spec, inputs, machine, lang(), options={"progress": progress}, acquired_at=acquired_at)
    finally:
        bar.empty()


def widget_prefix(test_key: str) -> str:
    return test_key.replace("-", "_")


def cached_analysis(store, spec, inputs, machine, prefix: str) -> pipeline.Analysis | None:
    """The analysis of these inputs (kept in the session while they do not change); None after an error shown."""
    given = given_date_for(prefix, inputs)
    cache_key = _inputs_key(inputs, machine) + (given.isoformat() if given else "")
    cached = st.session_state.get(f"{prefix}_analysis")
    if cached is not None and cached[0] == cache_key:
        return cached[1]
    st.session_state.pop(f"{prefix}_saved", None)
    try:
        analysis = analyse_with_progress(store, spec, inputs, machine, given)
    except QCInputError as exc:
        st.session_state.pop(f"{prefix}_analysis", None)
        if pipeline.needs_date(exc):
            ask_date_after(prefix, exc)
            return None
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


def _numbers(text: str) -> list[float]:
    """Numbers separated by ";" or spaces; a comma is a decimal comma (French)."""
    import re

    return [float(p.replace(",", ".")) for p in re.split(r"[;\s]+", text.strip()) if p]


def options_form(store, key: str, prefix: str) -> None:
    """The analysis settings of a test (isocentre; gantry angles; phantom layout), stored as the
    setting `options.<test>` (audited) and used by every later analysis, for physicists only."""
    import json

    if not allowed("tolerances"):
        return
    saved = json.loads(store.get_setting(f"options.{key}") or "{}")
    with st.expander(T("mrl.opt.title")):
        with st.form(f"{prefix}_options"):
            iso = st.text_input(T("mrl.opt.isocentre"), value=" ; ".join(f"{v:g}" for v in saved.get("isocentre_mm", (0.0, 0.0, 0.0))), key=f"{prefix}_opt_iso")
            fields = {}
            if key == "mr-b0-gantry":
                fields["gantry_angles_deg"] = st.text_input(T("mrl.opt.angles"), value=" ; ".join(f"{v:g}" for v in saved.get("gantry_angles_deg", [])), key=f"{prefix}_opt_angles", help=T("mrl.opt.angles_help"))
            if key == "mr-geometry-3d":
                # empty: the Unity phantom's own marker list (the default); two numbers: another phantom's ellipse
                fields["phantom_semi_axes_mm"] = st.text_input(T("mrl.opt.semi"), value=" ; ".join(f"{v:g}" for v in saved.get("phantom_semi_axes_mm", ())), key=f"{prefix}_opt_semi", help=T("mrl.opt.semi_help"))
                fields["planes_hf_mm"] = st.text_input(T("mrl.opt.planes"), value=" ; ".join(f"{v:g}" for v in saved.get("planes_hf_mm", (-165, -110, -55, 0, 55, 110, 165))), key=f"{prefix}_opt_planes")
                fields["grid_pitch_mm"] = st.text_input(T("mrl.opt.pitch"), value=f"{saved.get('grid_pitch_mm', 25.0):g}", key=f"{prefix}_opt_pitch")
            submitted = st.form_submit_button(T("mrl.opt.save"))
        if not submitted:
            return
        try:
            new = dict(saved)
            xyz = _numbers(iso)
            if len(xyz) != 3:
                raise ValueError(T("mrl.opt.err_iso"))
            new["isocentre_mm"] = xyz
            for name, text in fields.items():
                values = _numbers(text)
                if name == "grid_pitch_mm":
                    if len(values) != 1 or values[0] <= 0:
                        raise ValueError(T("mrl.opt.err_positive"))
                    new[name] = values[0]
                elif name == "phantom_semi_axes_mm":
                    if not values:
                        new.pop(name, None)
                        continue
                    if len(values) != 2 or min(values) <= 0:
                        raise ValueError(T("mrl.opt.err_semi"))
                    new[name] = values
                elif name == "gantry_angles_deg":
                    if values and len(values) < 2:
                        raise ValueError(T("mrl.opt.err_angles"))
                    if values:
                        new[name] = values
                    else:
                        new.pop(name, None)
                else:
                    if not values:
                        raise ValueError(T("mrl.opt.err_planes"))
                    new[name] = values
        except ValueError as exc:
            st.error(str(exc) if str(exc) and not str(exc).startswith("could not") else T("mrl.opt.err_number"))
            return
        store.set_setting(f"options.{key}", json.dumps(new), user=operator())
        st.session_state.pop(f"{prefix}_analysis", None)
        st.session_state.pop(f"mrl_{prefix}_analysis", None)
        st.success(T("mrl.opt.saved"))


def mr_test_page(key: str, module) -> None:
    """Upload (or demo) → analyse with progress → show → save, for one MR-Linac MRI QA test."""
    from qc.demo_inputs import demo_inputs_for
    from qc.registry import get_test

    store = get_store()
    spec = get_test(key, store)
    prefix = widget_prefix(key)
    st.title(spec.name(lang()))
    st.caption(f"{T('freq.' + spec.frequency)} — {spec.description(lang())}")
    from pages.guide_link import guide_link; guide_link(spec.key, spec.name_fr, spec.name(lang()))  # noqa: E702 - docs/guide
    st.page_link("pages/mr_linac.py", label=T("mrl.page.title"), icon=":material/folder_open:")
    machine = machine_selector(store, key=f"{prefix}_machine")
    options_form(store, key, prefix)
    types = [x.strip().lstrip(".") for x in spec.accepts.split(",") if x.strip()]
    uploads = session_uploader(T("ui.upload"), types, key=f"{prefix}_upload")
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
