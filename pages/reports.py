"""Reports: pick a machine and a month, generate the monthly PDF, preview its summary and download it."""

from __future__ import annotations

from pages.common import ensure_navigation

ensure_navigation()

import datetime as dt

import streamlit as st

from pages.common import T, allowed, get_store, lang, operator
from qc.display import fmt_datetime as display_date, status_word
from qc.registry import all_tests
from qc.reporting.report import monthly_report_pdf

store = get_store()
st.title(T("nav.reports"))
machines = store.machines()
if not machines:
    st.warning(T("ui.no_machine"))
    st.stop()
c1, c2 = st.columns(2)
machine = c1.selectbox(T("ui.machine"), machines, format_func=lambda m: m["name"], key="rep_machine")
today = dt.date.today()
months = []
y, m = today.year, today.month
for _ in range(24):
    months.append(f"{y:04d}-{m:02d}")
    y, m = (y, m - 1) if m > 1 else (y - 1, 12)
month = c2.selectbox(T("rep.month"), months, index=1, key="rep_month")
report_lang = st.radio(T("rep.language"), ["fr", "en"], format_func=lambda c: {"fr": "Français", "en": "English"}[c],
                       index=0 if lang() == "fr" else 1, horizontal=True, key="rep_lang")
if st.button(T("rep.generate"), key="rep_generate", type="primary", icon=":material/picture_as_pdf:"):
    with st.spinner(T("rep.generating")):
        pdf = monthly_report_pdf(store, machine["id"], month, lang=report_lang, generated_by=operator())
    st.session_state["rep_pdf"] = (machine["id"], month, report_lang, pdf)
current = st.session_state.get("rep_pdf")
if current and current[:3] == (machine["id"], month, report_lang):
    pdf = current[3]
    st.success(T("rep.ready", kb=len(pdf) // 1024))
    st.download_button(T("rep.download"), pdf, file_name=f"rapport_QC_{machine['name'].replace(' ', '_')}_{month}.pdf",
                       mime="application/pdf", key="rep_download", icon=":material/download:")

st.subheader(T("rep.signoff"))
for sg in store.signoffs(machine["id"], month):
    st.text(T("report.signed", by=sg["signed_by"], at=sg["signed_at"], comment=sg["comment"] or "—"))
changes = store.changes_after_signoff(machine["id"], month)
if changes:
    st.error(T("report.changed_after_signature", n=len(changes), at=changes[0]["signed_at"]))
    spec_names = {s.key: s.name(lang()) for s in all_tests(store)}
    st.dataframe([{T("display.col.session_id"): c["id"], T("display.col.test"): spec_names.get(c["test"], c["test"]),
                   T("display.col.acquired_at"): display_date(c["acquired_at"]),
                   T("display.col.changes"): ", ".join(T("report.change_" + w) for w in c["changes"])} for c in changes], hide_index=True)
if not allowed("sign"):
    st.caption(T("auth.denied"))
else:
    with st.form("rep_sign_form", clear_on_submit=True):
        sign_comment = st.text_input(T("rep.sign_comment"), key="rep_sign_comment")
        if st.form_submit_button(T("rep.sign", month=month)):
            if not operator():
                st.error(T("ui.operator_required"))
            else:
                store.sign_month(machine["id"], month, operator(), sign_comment)
                st.session_state.pop("rep_pdf", None)
                st.rerun()

st.subheader(T("rep.preview"))
from qc.reporting.report import expected_sessions, month_bounds  # noqa: E402
from qc.tolerances import worst  # noqa: E402

first, last = month_bounds(month)
sessions = store.sessions_frame(machine_id=machine["id"], date_from=first.isoformat(), date_to=last.isoformat())
rows = []
for spec in all_tests(store):
    s = sessions[sessions["test"] == spec.key]
    rows.append({
        T("report.col_test"): spec.name(lang()),
        T("report.col_freq"): T("freq." + spec.frequency),
        T("report.col_sessions"): f"{len(s)} / {expected_sessions(spec.frequency, first, last)}",
        T("report.col_worst"): status_word(worst(s["status"]), lang(), icon=True) if len(s) else "—",
    })
st.dataframe(rows, hide_index=True, width="stretch")
