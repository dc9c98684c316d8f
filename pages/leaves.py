"""Position des lames: absolute leaf-end positions on the AQUA 20 mm gap plan (and picket fences):
images with the detected leaf ends, pair × position heat map of errors, the profile along the failing
leaves (from their stored item rows), worst leaves."""

from pages.common import ensure_navigation

ensure_navigation()

import streamlit as st  # noqa: E402

from pages.common import T, charts_of, image_test_page, items_frame, lang  # noqa: E402
from qc.mv import leaves  # noqa: E402
from qc import pipeline  # noqa: E402


def leaves_view(analysis: pipeline.Analysis) -> None:
    charts_of(leaves)(analysis)
    failing = leaves.failing_leaves(analysis.result)
    if len(failing) > 6:  # the chart above shows the six worst: any other failing leaf on demand
        labels = [leaves.leaf_label(it, lang()) for it in failing]
        pick = st.selectbox(T("leaves.ui.pick_leaf"), range(len(failing)), format_func=lambda i: labels[i])
        st.altair_chart(leaves.failing_profile_chart(analysis.result, lang(), leaves=[failing[pick]]), width="stretch")
    worst = leaves.worst_leaves(analysis.result, 10)
    if worst:
        st.subheader(T("ui.worst_leaves"))
        st.dataframe(items_frame(worst, lang(), analysis.spec), hide_index=True, width="stretch")


image_test_page("leaves", extra=leaves_view)
