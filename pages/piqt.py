"""PIQT: Philips' periodic image-quality report — every value with its own criterion, per section,
with the history of each value (same parameter, scan and echo) beside it."""

from __future__ import annotations

from pages.common import ensure_navigation

ensure_navigation()

import streamlit as st

from pages.common import STATUS_BG, T, arrow_safe, get_store, image_test_page, lang
from qc.mr import piqt
from qc import pipeline


def piqt_view(analysis: pipeline.Analysis) -> None:
    result = analysis.result
    store = get_store()
    sections = list(dict.fromkeys(it["section"] for it in result.items))
    machine_id = analysis.machine["id"] if analysis.machine else None
    history = store.metrics_frame(machine_id=machine_id, test="piqt") if machine_id else None
    for section in sections:
        st.subheader(section)
        table = arrow_safe(piqt.section_table(result, section))
        if "status" in table.columns:
            st.dataframe(
                table.style.apply(lambda row: [f"background-color: {STATUS_BG.get(str(row['status']), '#ffffff')}"] * len(row), axis=1),
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
                    st.dataframe(pivot, width="stretch")
    for title, chart in piqt.charts(result, lang()):
        st.altair_chart(chart, width="stretch")


image_test_page("piqt", extra=piqt_view)
