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
    worst = leaves.worst_leaves(analysis.result, 10)
    if worst:
        st.subheader(T("ui.worst_leaves"))
        st.dataframe(items_frame(worst, lang(), analysis.spec), hide_index=True, width="stretch")


image_test_page("leaves", extra=leaves_view)
