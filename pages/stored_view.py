"""Showing a stored session from its record (not a page): verdict, dates and versions, warnings, the judged rows as
stored, the pictures drawn when it was stored and its item table. Nothing here analyses the files again: what
the physicist confirms or reads is the stored row (`qc.record`). Used by the review queue and History."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.common import T, lang, show_status
from qc.display import display_frame, fmt_bounds, fmt_datetime, items_frame, status_word
from qc.record import VersionText, stored_record
from qc.textsafe import md_escape


def metrics_table(s: dict, spec) -> pd.DataFrame:
    """The stored metric rows (value, limits, status as judged when stored), labelled for display."""
    rows = pd.DataFrame(s["metrics"])
    if rows.empty:
        return rows
    rows["limits"] = [fmt_bounds((r["act_low"], r["tol_low"], r["tol_high"], r["act_high"]), "", lang()) for _, r in rows.iterrows()]
    return display_frame(rows.rename(columns={"name": "metric"}), lang(),
                         ["metric", "item", "value", "unit", "nominal", "limits", "status", "reference"], spec=spec, icons=True)


def versions_caption(s: dict) -> str:
    return T("record.versions", analyser=VersionText(s.get("analyser_version")), app=VersionText(s.get("app_version")))


def show_stored_pictures(store, s: dict) -> None:
    """The overlays and charts stored with the session; for a session stored before they were kept, one sentence."""
    rec = stored_record(store, s)
    if not rec.kept:
        st.info(T("record.no_pictures"), icon=":material/hide_image:")
        return
    if rec.missing:
        st.warning(T("record.pictures_missing", n=rec.missing))
    if rec.overlays:
        cols = st.columns(min(3, len(rec.overlays)))
        for i, (title, png) in enumerate(rec.overlays):
            cols[i % len(cols)].image(png, caption=md_escape(title), width="stretch")
    for _title, chart in rec.charts:
        st.vega_lite_chart(chart, width="stretch")


def show_stored_session(store, s: dict, spec) -> None:
    """The whole stored session as the review queue shows it before « Confirmer »."""
    show_status(s["status"])
    st.markdown(T("hist.session_info", machine=md_escape(s["machine"]), date=fmt_datetime(s["acquired_at"]), operator=md_escape(s["operator"] or "—"),
                  status=status_word(s["status"], lang(), icon=True), comment=md_escape(s["comment"] or "—")))
    st.caption(versions_caption(s))
    for w in s["warnings"]:
        st.warning(md_escape(w), icon=":material/warning:")
    table = metrics_table(s, spec)
    if not table.empty:
        st.dataframe(table, hide_index=True, width="stretch")
    show_stored_pictures(store, s)
    if s["items"]:
        with st.expander(T("ui.items"), expanded=False):
            st.dataframe(items_frame(s["items"], lang(), spec), hide_index=True, width="stretch")


def differences(s: dict, analysis) -> int:
    """How many (metric, item) rows differ between a stored session and its re-analysis: a value (beyond
    rounding), a status, or a row present on one side only."""
    old = {(r["name"], r["item"] or ""): (r["value"], r["status"]) for r in s["metrics"]}
    new = {(j.name, j.item or ""): (j.value, j.status) for j in analysis.judged}
    n = 0
    for key in old.keys() | new.keys():
        if key not in old or key not in new:
            n += 1
            continue
        (v0, s0), (v1, s1) = old[key], new[key]
        same_value = (v0 is None and v1 is None) or (v0 is not None and v1 is not None and abs(float(v0) - float(v1)) <= 1e-9 * max(1.0, abs(float(v0))))
        n += 0 if (same_value and s0 == s1) else 1
    return n


def reanalyse_block(store, s: dict, spec) -> None:
    """« Réanalyser »: the kept files analysed again with the current analyser, old and new side by side with the
    version each came from; only on confirmation is the new session stored and the original voided (« réanalysé »)."""
    from pages.common import allowed, judged_frame, operator, style_status
    from qc import pipeline
    from qc.errors import QCInputError

    if s["voided"] or not s["files"] or spec is None or spec.analyse is None or not allowed("void"):
        return
    key = f"record_reanalysis_{s['id']}"
    if st.button(T("record.reanalyse"), help=T("record.reanalyse_help"), key="hist_reanalyse", icon=":material/replay:"):
        try:
            with st.spinner(T("ui.analysing")):
                st.session_state[key] = pipeline.reanalyse(store, s["id"], lang())
        except QCInputError as exc:
            st.error(md_escape(exc.message(lang())))
    new = st.session_state.get(key)
    if new is None:
        return
    n = differences(s, new)
    (st.warning if n else st.success)(T("record.differs", n=n) if n else T("record.same"))
    c_old, c_new = st.columns(2)
    with c_old:
        st.markdown("**" + T("record.old", version=VersionText(md_escape(s["analyser_version"] or "—"))) + "**")
        show_status(s["status"])
        st.dataframe(metrics_table(s, spec), hide_index=True, width="stretch")
    with c_new:
        st.markdown("**" + T("record.new", version=VersionText(md_escape(new.result.analyser_version))) + "**")
        show_status(new.status)
        frame = judged_frame(new)
        if not frame.empty:
            st.dataframe(style_status(frame), hide_index=True, width="stretch")
        for w in new.warnings:
            st.warning(md_escape(w), icon=":material/warning:")
    with st.form("record_replace"):
        sure = st.checkbox(T("record.replace_confirm"), key="record_replace_sure")
        if st.form_submit_button(T("record.replace"), type="primary"):
            if not sure:
                st.error(T("err.confirm_required"))
            else:
                try:
                    new_id = pipeline.replace_with_reanalysis(store, s["id"], new, operator(), lang())
                except QCInputError as exc:
                    st.error(md_escape(exc.message(lang())))
                else:
                    st.session_state.pop(key, None)
                    st.session_state["record_replaced"] = new_id
                    st.query_params["session"] = str(new_id)
                    st.rerun()
