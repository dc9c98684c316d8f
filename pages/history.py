"""History: trends with tolerance bands, filters, a sortable table, session detail, corrections
(void with a reason, comments: both audited) and export (CSV / Excel)."""

from __future__ import annotations

from pages.common import ensure_navigation

ensure_navigation()

import datetime as dt

import pandas as pd
import streamlit as st

from pages.common import T, allowed, get_store, lang, operator, tests
from pages.stored_view import reanalyse_block, show_stored_pictures, versions_caption
from qc.display import display_frame, fmt_bounds, fmt_datetime as display_date, items_frame, status_word
from qc.record import spec_for_session
from qc.records.export import DIALECTS, export_frame, to_bytes
from qc.textsafe import md_escape
from qc.reporting.trends import drift_signal, series_label, small_multiples, trend_chart

store = get_store()
st.title(T("nav.history"))
specs = tests(store)
spec_by_key = {s.key: s for s in specs}
machines = store.machines()

# ------------------------------------------------------------------ session detail (?session=ID)


def session_detail(session_id: int) -> None:
    try:
        s = store.session(session_id)
    except Exception:
        st.error(T("hist.no_session", session=session_id))
        return
    spec = spec_for_session(s, spec_by_key)  # the registry's, else the names stored with the session
    name = spec.name(lang()) if spec else s["test"]
    st.subheader(T("hist.session_title", session=session_id, test=name))
    if s["voided"]:
        st.error(T("hist.voided_banner", reason=md_escape(s["void_reason"] or ""), by=md_escape(s["voided_by"] or ""), at=s["voided_at"]))
    flag = store.session_signoff_flag(session_id)
    if flag:
        st.warning(T("hist.after_signature", at=flag["signed_at"], changes=", ".join(T("report.change_" + w) for w in flag["changes"])))
    st.markdown(T("hist.session_info", machine=md_escape(s["machine"]), date=display_date(s["acquired_at"]), operator=md_escape(s["operator"] or "—"),
                  status=status_word(s["status"], lang(), icon=True), comment=md_escape(s["comment"] or "—")))
    st.caption(versions_caption(s))
    if st.session_state.pop("record_replaced", None) == session_id:
        st.success(T("record.replaced", session=session_id))
    for w in s["warnings"]:
        st.warning(md_escape(w))
    rows = pd.DataFrame(s["metrics"])
    if not rows.empty:
        rows["limits"] = [fmt_bounds((r["act_low"], r["tol_low"], r["tol_high"], r["act_high"]), "", lang()) for _, r in rows.iterrows()]
        st.dataframe(display_frame(rows.rename(columns={"name": "metric"}), lang(), ["metric", "item", "value", "unit", "nominal", "limits", "status", "reference"],
                                   spec=spec, icons=True),
                     hide_index=True, width="stretch")
    show_stored_pictures(store, s)  # drawn when the session was stored: never analysed again to be shown
    if s["items"]:
        with st.expander(T("ui.items")):
            st.dataframe(items_frame(s["items"], lang(), spec), hide_index=True, width="stretch")
    if s["files"]:
        with st.expander(T("hist.files", n=len(s["files"]))):
            st.dataframe(display_frame(pd.DataFrame(s["files"]), lang(), ["filename", "sop_instance_uid", "sha256", "size"]), hide_index=True, width="stretch")
    reanalyse_block(store, s, spec)
    if s["comments"]:
        st.markdown("**" + T("report.comments") + "**")
        for c in s["comments"]:
            st.text(f"{c['at']} — {c['user']}: {c['text']}")
    # Review and signature (« Relu » / « Approuvé »), notes on one leaf (pages/signatures_block.py).
    from pages.signatures_block import render_signature_block

    render_signature_block(store, s, spec)
    from qc.reporting.report import session_report_pdf

    if st.button(T("hist.make_pdf"), key="hist_make_pdf"):
        st.session_state["hist_pdf"] = (session_id, session_report_pdf(store, session_id, lang()))
    pdf = st.session_state.get("hist_pdf")
    if pdf and pdf[0] == session_id:
        st.download_button(T("hist.download_pdf"), pdf[1], file_name=f"seance_{session_id}.pdf", mime="application/pdf", key="hist_pdf_dl")
    c1, c2 = st.columns(2)
    with c1.form(key="hist_comment_form", clear_on_submit=True):
        text = st.text_area(T("hist.add_comment"), key="hist_comment_text")
        if st.form_submit_button(T("hist.add_comment_btn")):
            if not operator():
                st.error(T("ui.operator_required"))
            elif text.strip():
                store.add_comment(session_id, text, operator())
                st.rerun()
    if not s["voided"] and allowed("void"):
        with c2.form(key="hist_void_form"):
            reason = st.text_input(T("hist.void_reason"), key="hist_void_reason")
            if st.form_submit_button(T("hist.void_btn")):
                if not operator():
                    st.error(T("ui.operator_required"))
                elif not reason.strip():
                    st.error(T("hist.void_reason_required"))
                else:
                    store.void_session(session_id, reason, operator())
                    st.rerun()


def drift_warning(drift, title: str, unit: str) -> None:
    """Say when a series trends towards its limit (or has already crossed it along its trend)."""
    if drift is None or not drift.reaches_limit:
        return
    key = "hist.drift_past" if drift.days_to_limit is not None and drift.days_to_limit < 1 else "hist.drift"
    st.warning(T(key, title=md_escape(title), slope=f"{drift.slope_per_30d:+.3g}", unit=unit,
                 days=f"{drift.days_to_limit:.0f}", n=drift.n))


# ------------------------------------------------------------------ filters

def _session_picked() -> None:
    """The session chosen in « Ouvrir une séance » goes into the address (a link that can be kept or sent)."""
    sid = st.session_state.get("hist_pick")
    if sid is None:
        st.query_params.pop("session", None)
    else:
        st.query_params["session"] = str(sid)


def session_picker(df: pd.DataFrame) -> None:
    """« Ouvrir une séance »: every session of the table by number, date and machine (a list any browser, and
    its tests, can click, unlike the table's canvas); the chosen session's detail opens right under it."""
    sessions = df.drop_duplicates("session_id").sort_values("acquired_at", ascending=False, kind="stable")  # the latest first
    labels = {int(r["session_id"]): T("hist.pick_label", session=int(r["session_id"]), date=display_date(r["acquired_at"]), machine=r["machine"])
              for _, r in sessions.iterrows()}
    if st.session_state.get("hist_pick") not in labels:
        st.session_state.pop("hist_pick", None)
    sid = st.selectbox(T("hist.pick_session"), list(labels), index=None, format_func=labels.get, placeholder=T("hist.pick_placeholder"),
                       key="hist_pick", on_change=_session_picked)
    if sid is not None:
        with st.container(border=True, key="hist_picked_session"):
            session_detail(sid)


qp_session = st.query_params.get("session")
picked_here = qp_session and st.session_state.get("hist_pick") is not None and str(st.session_state["hist_pick"]) == str(qp_session)
if qp_session and str(qp_session).isdigit() and not picked_here:
    session_detail(int(qp_session))
    if st.button(T("hist.back"), key="hist_back"):
        del st.query_params["session"]
        st.rerun()
    st.divider()

with st.container(border=True):
    c1, c2, c3 = st.columns(3)
    machine = c1.selectbox(T("ui.machine"), [None] + machines, format_func=lambda m: T("hist.all") if m is None else m["name"], key="hist_machine")
    test_keys = [s.key for s in specs]
    test = c2.selectbox(T("hist.test"), test_keys, format_func=lambda k: spec_by_key[k].name(lang()), key="hist_test")
    today = dt.date.today()
    period = c3.date_input(T("hist.period"), value=(today - dt.timedelta(days=180), today), key="hist_period")
    c4, c5, c6 = st.columns(3)
    spec = spec_by_key[test]
    metric_names = [m.name for m in spec.metrics if m.trend]
    stored_names = store.metric_names(test, machine["id"] if machine else None)
    metric_names += [n for n in stored_names if n not in metric_names]
    metric = c4.selectbox(T("hist.metric"), [None] + metric_names,
                          format_func=lambda n: T("hist.all_metrics") if n is None else (spec.metric(n).label(lang()) if spec.metric(n) else n), key="hist_metric")
    statuses = c5.multiselect(T("hist.status"), ["pass", "warning", "fail", "none"], format_func=lambda s: T("status." + s), key="hist_status",
                              placeholder=T("hist.all_statuses"))
    show_voided = c6.toggle(T("hist.show_voided"), key="hist_voided")

date_from = period[0].isoformat() if isinstance(period, (tuple, list)) and len(period) > 0 else None
date_to = period[1].isoformat() if isinstance(period, (tuple, list)) and len(period) > 1 else None
df = store.metrics_frame(
    machine_id=machine["id"] if machine else None, test=test, metric=metric, date_from=date_from, date_to=date_to,
    include_voided=show_voided, status=statuses or None,
)

if df.empty:
    st.info(T("hist.empty"))
else:
    trended = df[df["metric"].map(lambda n: spec.metric(n) is None or spec.metric(n).trend)]
    events = store.events(machine["id"]) if machine else None  # drawn on every chart; drift restarts after them
    series = list(trended.groupby(["metric", "item"], sort=False))
    if metric is not None and len(series) >= 1:
        # The control chart (qc.reporting.spc): limits from a baseline after the latest machine event, run rules, steps.
        spc_machine = machine or (machines[0] if len(machines) == 1 else None)
        spc_on = st.toggle(T("spc.toggle"), key="hist_spc", help=T("spc.toggle_help"))
        if spc_on and spc_machine is None:
            st.info(T("spc.need_machine"))
        for (name, item), g in series[:6]:
            title, unit = series_label(spec, name, item, lang())
            if spc_on and spc_machine is not None:
                from pages.spc_view import render_control_chart

                render_control_chart(store, spc_machine, test, name, item, title, unit)
                continue
            st.altair_chart(trend_chart(g, title, unit, lang(), events=events), width="stretch")
            drift_warning(drift_signal(g, events=events), title, unit)
    elif series:
        chart = small_multiples(trended, spec, lang(), events=events)
        if chart is not None:
            st.altair_chart(chart)
        for (name, item), g in series:
            drift_warning(drift_signal(g, events=events), *series_label(spec, name, item, lang()))
    sessions = df.drop_duplicates("session_id")
    st.subheader(T("hist.table", n=len(sessions), m=len(df)))
    from qc.records.signatures import current_signatures, signature_text

    signed = current_signatures(store, df["session_id"].unique())  # the signature in force of each session, one query
    df["signature"] = df["session_id"].map(lambda i: signature_text(signed.get(int(i)), lang()))
    shown = display_frame(df, lang(), ["session_id", "acquired_at", "machine", "metric", "item", "value", "unit", "status", "signature", "operator",
                                       "comment", "voided"], spec=spec, icons=True)
    session_picker(df)
    event = st.dataframe(shown, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="hist_table")
    selected = getattr(getattr(event, "selection", None), "rows", []) if event is not None else []
    if selected:
        sid = int(df["session_id"].iloc[selected[0]])
        if st.button(T("hist.open_session", session=sid), key="hist_open"):
            st.query_params["session"] = str(sid)
            st.rerun()
    c1, c2, c3 = st.columns([2, 1, 1])
    dialect = c1.radio(T("display.csv_dialect"), list(DIALECTS), index=0 if lang() == "fr" else 1, horizontal=True,
                       format_func=lambda d: T("display.csv_" + d), key="hist_csv_dialect")
    # The files are written when the button is clicked, not at every run of the page (the Excel file of the demo's
    # daily output alone took 1 s of CPU per run; measured with bench/bench_first_start.py).
    lg = lang()
    c2.download_button(T("hist.export_csv"), lambda: to_bytes(export_frame(df, lg, specs), "csv", dialect=dialect), file_name=f"qc_{test}.csv",
                       mime="text/csv", key="hist_csv", help=T("display.csv_help"))
    c3.download_button(T("hist.export_xlsx"), lambda: to_bytes(export_frame(df, lg, specs, numbers="keep"), "xlsx"), file_name=f"qc_{test}.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="hist_xlsx")

with st.expander(T("hist.audit")):
    st.dataframe(display_frame(store.audit_frame(200), lang(), ["at", "user", "action", "entity", "entity_id", "details"]), hide_index=True, width="stretch")
