"""Home: per machine, every test with frequency, last done, result and next due; overdue and
out-of-tolerance first; latest values at a glance."""

from __future__ import annotations

from pages.common import ensure_navigation

ensure_navigation()

import datetime as dt

import pandas as pd
import streamlit as st

from pages.common import STATUS_BG, STATUS_ICON, T, get_store, lang, page_for, tests
from qc.display import display_frame, status_word
from qc.intake.refusals import refusal_sentences
from qc.records.schedule import due_table
from qc.textsafe import md_escape

store = get_store()
st.title(T("home.title"))
st.caption(T("home.subtitle"))
# Sessions received automatically wait for a physicist before anything else.
n_pending = len(store.pending_reviews())
if n_pending:
    st.warning(T("intake.review.pending_home", n=n_pending), icon=":material/inbox:")
    st.page_link("pages/review.py", label=T("nav.review"), icon=":material/inbox:")
# What the DICOM receiver refused for lack of room (size limit, inbox quota) since a week.
for sentence in refusal_sentences(store, lang()):
    st.error(sentence, icon=":material/block:")
# Results that wait for a physicist's signature (« Relu » / « Approuvé »), each a link to its session.
from pages.signatures_block import render_awaiting

render_awaiting(store, tests(store))
machines = store.machines()
if not machines:
    st.warning(T("ui.no_machine"))
    st.page_link("pages/settings.py", label=T("nav.settings"), icon=":material/settings:")
    st.stop()

STATE_BG = {"overdue": "#ffcdd2", "never": "#ffcdd2", "today": "#ffe0b2", "ok": "#e8f5e9"}


def schedule_state(r, today: dt.date) -> tuple[str, str]:
    """(code, words) of a schedule row: never done, overdue by n days, due today, or up to date."""
    if r.last_done is None:
        return "never", T("home.never_done")
    if r.overdue:
        return "overdue", T("home.overdue_by", days=r.days_overdue)
    if r.next_due == today:
        return "today", T("display.due.today")
    days = (r.next_due - today).days
    return "ok", (T("display.due.tomorrow") if days == 1 else T("display.due.in_days", days=days))


def style_schedule(table: pd.DataFrame, rows, states):
    """State cell coloured by urgency (red overdue or never done, orange due today, green up to
    date); the result cell by the last status."""
    state_col, result_col = T("home.col_state"), T("home.col_result")

    def colour(row):
        r, (code, _) = rows[row.name], states[row.name]
        out = [""] * len(row)
        out[list(row.index).index(state_col)] = f"background-color: {STATE_BG[code]}"
        if r.last_status:
            out[list(row.index).index(result_col)] = f"background-color: {STATUS_BG.get(r.last_status, '#ffffff')}"
        return out

    return table.style.apply(colour, axis=1)


specs = tests(store)
spec_by_key = {s.key: s for s in specs}
today = dt.date.today()
for machine in machines:
    st.header(md_escape(machine["name"]))
    rows = due_table(store, machine["id"], specs, today, lang())
    overdue = [r for r in rows if r.overdue]
    failing = [r for r in rows if r.last_status in ("fail", "warning")]
    c1, c2, c3 = st.columns(3)
    c1.metric(T("home.overdue"), len(overdue))
    c2.metric(T("home.out_of_tolerance"), len(failing))
    c3.metric(T("home.sessions_total"), int(store.sessions_frame(machine_id=machine["id"]).shape[0]))
    if failing:
        st.subheader(T("home.failing_list"))
        for r in failing:
            st.markdown(f"{STATUS_ICON[r.last_status]} **{md_escape(r.name)}** — {r.last_done} — {status_word(r.last_status, lang())}")
    states = [schedule_state(r, today) for r in rows]
    table = pd.DataFrame(
        [
            {
                T("home.col_test"): r.name,
                T("home.col_freq"): T("freq." + r.frequency),
                T("home.col_last"): r.last_done.isoformat() if r.last_done else T("home.never"),
                T("home.col_result"): status_word(r.last_status, lang(), icon=True) if r.last_status else "—",
                T("home.col_due"): r.next_due.isoformat(),
                T("home.col_state"): text,
            }
            for r, (_, text) in zip(rows, states)
        ]
    )
    st.subheader(T("home.due_list"))
    st.dataframe(style_schedule(table, rows, states), hide_index=True, width="stretch", height="content")  # every row, no inner scroll
    st.subheader(T("home.go"))
    cols = st.columns(4)
    for i, r in enumerate(rows):
        if cols[i % 4].button(r.name, key=f"go_{machine['id']}_{r.test}", icon=":material/arrow_forward:", width="stretch"):
            st.switch_page(page_for(spec_by_key[r.test]))
    with st.expander(T("home.latest_values"), expanded=False):
        latest = store.metrics_frame(machine_id=machine["id"])
        if latest.empty:
            st.write(T("home.no_values"))
        else:
            last = latest.sort_values("acquired_at").groupby(["test", "metric", "item"], sort=False).tail(1)
            st.dataframe(display_frame(last, lang(), ["test", "metric", "item", "value", "unit", "status", "acquired_at"], specs=specs, icons=True),
                         hide_index=True, width="stretch")
