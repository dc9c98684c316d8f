"""PIQT: Philips' periodic image-quality report — every value with its own criterion, per section,
with the history of each value (same parameter, scan and echo) beside it."""

from __future__ import annotations

from pages.common import ensure_navigation

ensure_navigation()

import streamlit as st

from pages.common import STATUS_BG, T, arrow_safe, get_store, image_test_page, lang
from qc.display import display_frame, status_word
from qc.mr import piqt
from qc import pipeline


def piqt_table(raw):
    """A PIQT section for display: labelled columns, the report's criterion, status words (PIQT's own:
    conforme / hors critère / sans critère), numbers without trailing zeros, blanks for empty cells."""
    shown = display_frame(raw.drop(columns=["status"]), lang()) if "status" in raw.columns else display_frame(raw, lang())
    if "status" in raw.columns:
        shown[T("display.col.status")] = [status_word(c, lang(), v, icon=True) if c != "none" else T("piqt.status.none")
                                          for c, v in zip(raw["status"], raw["value"])]
    return shown


def piqt_view(analysis: pipeline.Analysis) -> None:
    result = analysis.result
    store = get_store()
    sections = list(dict.fromkeys(it["section"] for it in result.items))
    machine_id = analysis.machine["id"] if analysis.machine else None
    history = store.metrics_frame(machine_id=machine_id, test="piqt") if machine_id else None
    for section in sections:
        st.subheader(section)
        raw = piqt.section_table(result, section)
        table = piqt_table(raw)
        codes = list(raw["status"]) if "status" in raw.columns else []
        if codes:
            st.dataframe(
                table.style.apply(lambda row: [f"background-color: {STATUS_BG.get(str(codes[row.name]), '#ffffff')}"] * len(row), axis=1),
                hide_index=True, width="stretch",
            )
        else:
            st.dataframe(table, hide_index=True, width="stretch")
        if history is not None and not history.empty:
            items = {(it["parameter"], it.get("item") or "") for it in result.items if it["section"] == section}
            h = history[[(m, i) in items for m, i in zip(history["metric"], history["item"])]]
            if not h.empty:
                with st.expander(T("ui.piqt_history", section=section)):
                    pivot = h.pivot_table(index=["metric", "item"], columns=h["acquired_at"].dt.strftime("%Y-%m-%d"), values="value", aggfunc="last")
                    pivot = pivot.reset_index()
                    pivot = pivot.rename(columns={"metric": T("display.col.parameter"), "item": T("display.col.item")})
                    st.dataframe(arrow_safe(pivot), hide_index=True, width="stretch")
    for title, chart in piqt.charts(result, lang()):
        st.altair_chart(chart, width="stretch")


image_test_page("piqt", extra=piqt_view)
