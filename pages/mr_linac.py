"""IRM MR-Linac: upload a whole exported MRI QA study; each series is recognised from its header and
analysed by its test (B0 homogeneity, B0 versus gantry angle, B1, 3-D geometry), each saved on its own."""

from pages.common import ensure_navigation

ensure_navigation()


import hashlib

import pandas as pd
import streamlit as st

from pages.common import SEVERITY, STATUS_ICON, T, get_store, lang, machine_selector, save_block, session_uploader, show_analysis, verdict_summary
from pages.mr_linac_common import cached_analysis, charts_extra, widget_prefix
from qc.errors import QCInputError
from qc.mr import b0, b0_gantry, b1, geometry_3d
from qc.mr.linac_series import route, series_inputs
from qc.registry import get_test
from qc.textsafe import md_escape

MODULES = {b0.KEY: b0, b0_gantry.KEY: b0_gantry, b1.KEY: b1, geometry_3d.KEY: geometry_3d}

store = get_store()
st.title(T("mrl.page.title"))
st.caption(T("mrl.page.caption"))
from pages.guide_link import guide_link; guide_link("mr-linac", name=T("mrl.page.title"))  # noqa: E402,E702 - docs/guide
with st.expander(T("mrl.page.per_test")):
    for key in MODULES:
        spec = get_test(key, store)
        st.page_link(spec.page, label=spec.name(lang()))
machine = machine_selector(store, key="mr_linac_machine")
uploads = session_uploader(T("ui.upload"), ["dcm", "zip"], key="mr_linac_upload")
if st.button(T("ui.try_demo"), key="mr_linac_demo", icon=":material/science:"):
    from qc.synthetic import demo_moment
    from qc.synthetic.mr_linac import demo_study

    with st.spinner(T("ui.making_demo")):
        now, seed = demo_moment()
        st.session_state["mr_linac_demo_inputs"] = demo_study(now, seed=seed)
inputs: list[tuple[str, bytes]] = []
if uploads:
    inputs = [(u.name, u.getvalue()) for u in uploads]
    st.session_state.pop("mr_linac_demo_inputs", None)
elif st.session_state.get("mr_linac_demo_inputs"):
    inputs = st.session_state["mr_linac_demo_inputs"]
    st.caption(T("ui.using_demo", n=len(inputs)))
if not inputs:
    st.info(T("ui.waiting_upload"))
    st.stop()

h = hashlib.sha256()
for name, data in inputs:
    h.update(name.encode())
    h.update(hashlib.sha256(data).digest())
h.update(lang().encode())
cached = st.session_state.get("mr_linac_routed")
if cached is None or cached[0] != h.hexdigest():
    try:
        routed, left_out = route(inputs, lang())
    except QCInputError as exc:
        st.error(md_escape(exc.message(lang())), icon=":material/error:")
        st.stop()
    st.session_state["mr_linac_routed"] = (h.hexdigest(), routed, left_out)
else:
    _, routed, left_out = cached

# Every routed series is analysed first, so the page can open on the verdict (errors, when any, come first).
analyses = {}
for key in MODULES:
    if key in routed:
        prefix = f"mrl_{widget_prefix(key)}"
        analysis = cached_analysis(store, get_test(key, store), series_inputs(routed[key]), machine, prefix)
        if analysis is not None:
            analyses[key] = analysis
shown = sorted(analyses, key=lambda k: SEVERITY.get(analyses[k].status, 0))  # the worst verdict first, else MODULES order
if shown:
    verdict_summary([(get_test(k, store).name(lang()), analyses[k].status) for k in shown])

rows = [
    {T("mrl.page.col_series"): s.label(), T("mrl.page.col_images"): len(s.slices), T("mrl.page.col_test"): get_test(key, store).name(lang())}
    for key in MODULES
    for s in routed.get(key, [])
]
st.subheader(T("mrl.page.routed"))
if rows:
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
if left_out:
    with st.expander(f"{T('mrl.page.left_out')} ({len(left_out)})"):
        for line in left_out:
            st.text(line)
if not routed:
    st.warning(T("mrl.page.nothing"))
    st.stop()

for key in shown:
    spec = get_test(key, store)
    st.divider()
    st.header(f"{STATUS_ICON[analyses[key].status]} {spec.name(lang())}")
    show_analysis(analyses[key], charts_extra(MODULES[key]))
    save_block(store, analyses[key], f"mrl_{widget_prefix(key)}")
