"""Page of a logged test (Niveau hélium, Position table, ...): a form built from the test's definition."""

from __future__ import annotations

from pages.common import ensure_navigation

ensure_navigation()

import datetime as dt

import pandas as pd
import streamlit as st

from pages.common import T, get_store, lang, machine_selector, operator, show_status, style_status, judged_frame
from pages.logged_import import import_expander
from qc import pipeline
from qc.display import display_frame
from qc.errors import QCInputError
from qc.registry import get_test
from qc.textsafe import md_escape

store = get_store()
key = st.session_state.get("_logged_test") or "safety"
spec = get_test(key, store)
test = spec.definition
st.title(md_escape(spec.name(lang())))
st.caption(f"{T('freq.' + spec.frequency)} — {md_escape(spec.description(lang()))}")
from pages.guide_link import guide_link; guide_link(spec.key, spec.name_fr, spec.name(lang()))  # noqa: E402,E702 - docs/guide
machine = machine_selector(store, key=f"log_{key}_machine")

c1, c2 = st.columns(2)
day = c1.date_input(T("ui.date"), value=dt.date.today(), key=f"log_{key}_date", max_value=dt.date.today())
tod = c2.time_input(T("ui.time"), value=dt.time(8, 0), key=f"log_{key}_time")
acquired_at = dt.datetime.combine(day, tod)

values: dict[str, object] = {}
comments: dict[str, str] = {}
for f in test.fields:
    label = f.label(lang())
    help_text = f.help_fr if lang() == "fr" else f.help_en
    if f.kind == "number":
        rng = ""
        if f.min is not None or f.max is not None:
            rng = T("ui.range", min="−∞" if f.min is None else f"{f.min:g}", max="+∞" if f.max is None else f"{f.max:g}", unit=f.unit)
        values[f.key] = st.text_input(
            f"{label} ({f.unit})" if f.unit else label,
            key=f"log_{key}_{f.key}",
            help=" ".join(x for x in (help_text, rng) if x) or None,
            placeholder=T("ui.optional") if not f.required else None,
        )
    elif f.kind == "passfail":
        cols = st.columns([2, 3])
        choice = cols[0].radio(label, ["pass", "fail"], format_func=lambda s: T("status." + s), key=f"log_{key}_{f.key}", horizontal=True, index=None)
        values[f.key] = None if choice is None else (choice == "pass")
        comments[f.key] = cols[1].text_input(T("ui.item_comment"), key=f"log_{key}_{f.key}_comment")
    else:
        values[f.key] = st.text_input(label, key=f"log_{key}_{f.key}")

typed = any(v not in (None, "") for v in values.values())
signature = repr((machine["id"] if machine else None, acquired_at, sorted(values.items()), sorted(comments.items())))
if st.session_state.get(f"log_{key}_signature") != signature:
    # New values: what was saved before belongs to the previous entry.
    st.session_state[f"log_{key}_signature"] = signature
    st.session_state.pop(f"log_{key}_saved", None)
analysis = None
if typed and machine is not None:
    try:
        analysis = pipeline.record_logged(store, spec, machine, values, acquired_at=acquired_at, comments=comments, lang=lang())
    except QCInputError as exc:
        # Every problem of the form at once, one box each (QCInputErrors), in the form's order.
        for problem in getattr(exc, "errors", [exc]):
            st.error(md_escape(problem.message(lang())), icon=":material/error:")
if analysis is not None:
    show_status(analysis.status)
    if "refill" in analysis.result.params.get("events", []):
        st.info(T("logged.refill"))
    st.dataframe(style_status(judged_frame(analysis)), hide_index=True, width="stretch")
    comment = st.text_area(T("ui.comment"), key=f"log_{key}_comment", height=70)
    already = bool(st.session_state.get(f"log_{key}_saved"))
    if st.button(T("ui.save"), key=f"log_{key}_save", type="primary", disabled=already):
        if not operator():
            st.error(T("ui.operator_required"))
        else:
            sid = pipeline.store_analysis(store, analysis, operator=operator(), comment=comment)
            st.session_state[f"log_{key}_saved"] = sid
    sid = st.session_state.get(f"log_{key}_saved")
    if sid:
        st.success(T("ui.saved", session=sid))
        st.page_link("pages/history.py", label=T("ui.see_history"), icon=":material/timeline:", query_params={"session": str(sid)})
elif not typed:
    st.info(T("ui.enter_values"))

import_expander(store, spec, machine)

recent = store.sessions_frame(machine_id=machine["id"] if machine else None, test=key).head(10)
if not recent.empty:
    st.subheader(T("ui.recent"))
    st.dataframe(display_frame(recent.rename(columns={"id": "session_id"}), lang(), ["session_id", "acquired_at", "status", "operator", "comment"], icons=True),
                 hide_index=True, width="stretch")
