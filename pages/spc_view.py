"""The control-chart view of one series in History (the toggle beside the tolerance view).

Not a page of its own: `render_control_chart(...)` is called by pages/history.py. Draws the I-MR chart
(qc.reporting.spc_chart), says the baseline, limits, Cpk, trend and each signal in words, offers the
step proposal (confirm: records the machine event; dismiss: stored) and the baseline picker, both to
physicists (the `baseline` permission) and both audited.
"""

from __future__ import annotations

import streamlit as st

from pages.common import T, allowed, lang, operator
from qc.errors import QCInputError
from qc.records.spc_records import dismiss_step, dismissed_steps, reset_spc_baseline, set_spc_baseline, spc_baseline_for
from qc.records.storage import EVENT_KINDS
from qc.reporting.spc import analyse_frame, describe, signal_text
from qc.reporting.spc_chart import control_charts
from qc.textsafe import md_escape


def render_control_chart(store, machine: dict, test: str, metric: str, item: str, title: str, unit: str) -> None:
    """The control chart of one (test, metric, item) series of `machine`, over all its stored results."""
    mid = machine["id"]
    df = store.metrics_frame(machine_id=mid, test=test, metric=metric)
    df = df[df["item"].fillna("") == (item or "")].dropna(subset=["value"])
    if df.empty:
        return
    events = store.events(mid)
    stored = spc_baseline_for(store, mid, test, metric, item or "")
    res = analyse_frame(df, events, (stored["date_from"], stored["date_to"]) if stored else None, dismissed_steps(store, mid, test, metric, item or ""))
    key = f"spc_{test}_{metric}_{item}"
    top, bottom = control_charts(res, df, title, unit, lang(), events=events)
    st.altair_chart(top, width="stretch", height=280)
    st.altair_chart(bottom, width="stretch", height=150)
    for line in describe(res, unit, lang()):
        st.caption(md_escape(line))
    if res.limits is not None:
        if res.signals:
            st.warning(T("spc.signals", n=len(res.signals)) + "\n\n" + "\n".join("- " + md_escape(signal_text(s, lang())) for s in res.signals))
        else:
            st.success(T("spc.in_control"))
    if res.step is not None:
        _step_proposal(store, mid, test, metric, item, res.step, unit, title, key)
    if allowed("baseline"):
        _baseline_picker(store, mid, test, metric, item, res, stored, key)


def _step_proposal(store, mid: int, test: str, metric: str, item: str, step, unit: str, title: str, key: str) -> None:
    """Propose the machine event at the step's date: confirmed (event recorded) or dismissed (stored), never automatic."""
    st.info(T("spc.step", shift=f"{step.shift:+.3g}", unit=unit, date=f"{step.at:%Y-%m-%d}", detected=f"{step.detected_at:%Y-%m-%d}"))
    if not allowed("baseline"):
        return
    with st.form(key + "_step"):
        c1, c2 = st.columns([1, 2])
        kind = c1.selectbox(T("spc.step_kind"), list(EVENT_KINDS), index=list(EVENT_KINDS).index("upgrade"),
                            format_func=lambda k: T("event.kind." + k), key=key + "_step_kind")
        note = c2.text_input(T("spc.step_note"), value=T("spc.step_note_default", metric=title), key=key + "_step_note")
        b1, b2 = st.columns(2)
        confirm = b1.form_submit_button(T("spc.step_confirm"))
        dismiss = b2.form_submit_button(T("spc.step_dismiss"))
    if confirm or dismiss:
        if not operator():
            st.error(T("ui.operator_required"))
            return
        try:
            if confirm:
                store.add_event(mid, step.at.date(), kind, note, user=operator())
                st.success(T("spc.step_confirmed"))
            else:
                dismiss_step(store, mid, test, metric, item, step.at, operator(), note)
                st.success(T("spc.step_dismissed"))
        except QCInputError as exc:
            st.error(exc.message(lang()))
            return
        st.rerun()


def _baseline_picker(store, mid: int, test: str, metric: str, item: str, res, stored, key: str) -> None:
    """Pick the baseline results by dates (stored, dated, audited), or go back to the default."""
    with st.expander(T("spc.baseline_pick")):
        first, last = res.dates.min().date(), res.dates.max().date()
        default = (res.baseline.start.date(), res.baseline.end.date()) if res.baseline is not None else (first, last)
        period = st.date_input(T("spc.baseline_range"), value=default, min_value=first, max_value=last, key=key + "_range")
        c1, c2 = st.columns(2)
        if c1.button(T("spc.baseline_save"), key=key + "_save") and isinstance(period, (tuple, list)) and len(period) == 2:
            if not operator():
                st.error(T("ui.operator_required"))
                return
            try:
                set_spc_baseline(store, mid, test, metric, item, period[0], period[1], operator())
            except QCInputError as exc:
                st.error(exc.message(lang()))
                return
            st.rerun()
        if stored is not None and c2.button(T("spc.baseline_reset"), key=key + "_reset"):
            if not operator():
                st.error(T("ui.operator_required"))
                return
            reset_spc_baseline(store, mid, test, metric, item, operator())
            st.rerun()
