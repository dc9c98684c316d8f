"""The machine-events block (service, upgrade, recalibration, MLC change) shown in Settings → Machines.

Not a page of its own: `render_events_form(store, machine, user)` is called by pages/settings.py.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from pages.common import T, lang
from qc.errors import QCInputError
from qc.records.storage import EVENT_KINDS
from qc.textsafe import md_escape


def render_events_form(store, machine: dict, user: str) -> None:
    """List the machine's events and record a new one (date, type, note)."""
    st.markdown("**" + T("event.form.title") + "**")
    st.caption(T("event.form.help"))
    events = store.events(machine["id"])
    if events.empty:
        st.info(T("event.form.none"))
    else:
        shown = pd.DataFrame({
            T("event.col.date"): events["occurred_at"].dt.strftime("%Y-%m-%d"),
            T("event.col.kind"): events["kind"].map(lambda k: T("event.kind." + k)),
            T("event.col.note"): events["note"],
            T("event.col.by"): events["created_by"],
        })
        st.dataframe(shown, hide_index=True, width="stretch")
    with st.form("set_event_form", clear_on_submit=True):
        c1, c2 = st.columns(2)
        day = c1.date_input(T("event.form.date"), value=dt.date.today(), max_value=dt.date.today(), key="set_event_date")
        kind = c2.selectbox(T("event.form.kind"), list(EVENT_KINDS), format_func=lambda k: T("event.kind." + k), key="set_event_kind")
        note = st.text_input(T("event.form.note"), key="set_event_note")
        if st.form_submit_button(T("event.form.add")):
            if not user:
                st.error(T("ui.operator_required"))
            else:
                try:
                    store.add_event(machine["id"], day, kind, note, user=user)
                    st.success(T("event.saved"))
                except QCInputError as exc:
                    st.error(md_escape(exc.message(lang())))
