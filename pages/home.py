"""Home: per machine, every test with frequency, last done, result and next due; overdue and
out-of-tolerance first; latest values at a glance."""

from __future__ import annotations

from pages.common import ensure_navigation

ensure_navigation()

import datetime as dt

import pandas as pd
import streamlit as st

from pages.common import STATUS_ICON, T, get_store, lang, page_for, tests
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
machines = store.machines()
if not machines:
    st.warning(T("ui.no_machine"))
    st.page_link("pages/settings.py", label=T("nav.settings"), icon=":material/settings:")
    st.stop()

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
            st.markdown(f"{STATUS_ICON[r.last_status]} **{md_escape(r.name)}** — {r.last_done} — {T('status.' + r.last_status)}")
    table = pd.DataFrame(
        [
            {
                T("home.col_test"): r.name,
                T("home.col_freq"): T("freq." + r.frequency),
                T("home.col_last"): r.last_done.isoformat() if r.last_done else T("home.never"),
                T("home.col_result"): f"{STATUS_ICON[r.last_status]} {T('status.' + r.last_status)}" if r.last_status else "—",
                T("home.col_due"): r.next_due.isoformat(),
                T("home.col_state"): (T("home.never_done") if r.last_done is None else T("home.overdue_by", days=r.days_overdue) if r.overdue else T("home.up_to_date")),
            }
            for r in rows
        ]
    )
    st.subheader(T("home.due_list"))
    st.dataframe(table, hide_index=True, width="stretch")
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
            last = last.assign(test=last["test"].map(lambda k: spec_by_key[k].name(lang()) if k in spec_by_key else k))
            st.dataframe(last[["test", "metric", "item", "value", "unit", "status", "acquired_at"]], hide_index=True, width="stretch")
