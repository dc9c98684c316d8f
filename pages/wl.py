"""Winston-Lutz: BB and field per image, isocentre diameter, BB shift in words, polar plot."""

from pages.common import ensure_navigation

ensure_navigation()

import streamlit as st

from pages.common import T, image_test_page, lang
from qc.mv import winston_lutz as wl
from qc.textsafe import md_escape


def _options() -> dict:
    """Gantry angles typed for files that carry none, and the BB diameter when the user knows it."""
    opts: dict = {}
    with st.expander(T("wl.angles.label"), expanded=False):
        text = st.text_area(T("wl.angles.label"), key="wl_angles", height=90, label_visibility="collapsed", placeholder="image1.dcm = 90")
        angles = {}
        for line in (text or "").splitlines():
            if not line.strip():
                continue
            name, sep, value = line.partition("=")
            try:
                angles[name.strip()] = float(value.strip().replace(",", ".")) if sep else None
            except ValueError:
                angles[name.strip()] = None
            if angles[name.strip()] is None:
                st.error(T("wl.angles.bad", line=md_escape(line.strip())))
                angles.pop(name.strip())
        if angles:
            opts["gantry_angles"] = angles
        d = st.text_input(T("wl.bb.label"), key="wl_bb_d")
        try:
            if d.strip():
                opts["bb_diameter_mm"] = float(d.replace(",", "."))
        except ValueError:
            st.error(T("wl.angles.bad", line=md_escape(d)))
    return opts


def _shift(analysis) -> None:
    r = analysis.result
    st.subheader(T("wl.shift.title"))
    st.info(md_escape(r.extra.get("shift_words", "")), icon=":material/open_with:")
    st.caption(T("wl.shift.frame"))
    for i, (_, chart) in enumerate(wl.charts(r, lang())):
        # the polar plot keeps its square aspect (stretched, its circles would become ellipses)
        st.altair_chart(chart, width="content" if i == 0 else "stretch")


image_test_page("wl", extra=_shift, options=_options)
