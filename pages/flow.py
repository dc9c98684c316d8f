"""The one page flow of every image test (not a page file): upload or demo → acquisition date asked when the files
carry none (never guessed) → analysis under the user's limit of concurrent analyses → the verdict first, then the
details → the duplicate question and the save through `qc.pipeline` (asked again inside the write transaction).

Every image/report test's page is `test_page(key)`, registered from `qc.registry` by `pages.common.page_for`; the two
MR study pages (one upload feeding several tests) are `mr_image_page` and `mr_linac_page`. All three go through
`run_flow`; they differ only by a layout (one test, tabs of measures, routed series) and by the small per-test hooks
of `pages.views` (options, extra display, baseline). No page copies the flow.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import streamlit as st

from pages.common import (
    SEVERITY,
    STATUS_ICON,
    T,
    _inputs_key,
    allowed,
    ask_date_after,
    client_address,
    current_user,
    get_store,
    given_date_for,
    lang,
    machine_selector,
    operator,
    page_of,
    save_block,
    session_uploader,
    show_analysis,
    verdict_summary,
)
from qc import pipeline
from qc.errors import QCInputError
from qc.records.storage import Store
from qc.registry import MENU_GROUPS, TestSpec, get_test
from qc.slots import analysis_slot
from qc.textsafe import md_escape

Inputs = list[tuple[str, bytes]]


@dataclasses.dataclass(frozen=True)
class TestView:
    """A test's own part of its page (`pages.views`): everything else is the flow's.

    `options` draws the analyser's options under the uploader and returns them; `extra` draws more of the result
    (charts, a sentence) between the pictures and the details; `baseline` makes a baseline from a stored result
    (the « set as baseline » button); `above` draws under the machine choice (settings, a link); `progress` shows
    the analyser's progress bar; `prefix` is the widget-key prefix when it is not the test's key (kept for the
    widget keys the browser tests and users' sessions know)."""

    extra: Callable[[pipeline.Analysis], None] | None = None
    options: Callable[[], dict] | None = None
    baseline: Callable | None = None
    above: Callable[[Store, TestSpec, str], None] | None = None
    progress: bool = False
    prefix: str | None = None


@dataclasses.dataclass
class Outcome:
    """The analyses of one upload: per test its analysis, or the sentence saying why it was refused."""

    analyses: dict[str, pipeline.Analysis]
    refused: dict[str, str]
    routed: dict | None = None
    left_out: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Flow:
    """One page's use of the flow: its tests, its texts, and how its outcome is laid out."""

    prefix: str
    title: str
    caption: str
    specs: list[TestSpec]
    accepts: list[str]
    demo: Callable[[], Inputs] | None
    layout: Callable[[Store, "Flow", Outcome], None]
    route: Callable[[Inputs], tuple[dict, dict[str, Inputs], list[str]]] | None = None
    options: Callable[[], dict] | None = None
    above: Callable[[Store], None] | None = None
    progress: bool = False
    # One upload feeds several tests (MR image quality): the same files stored for another test are not a duplicate.
    same_test_duplicates: bool = False
    # The widget-key prefix of a test's save block when the page shows several tests (default: page prefix + key).
    save_prefix: Callable[[TestSpec], str] | None = None
    # The page of the user guide (docs/guide/<guide>.md) opened by « Guide d'utilisation » under the title.
    guide: str = ""
    # A test whose analysis, when it applies to the upload, replaces others (the ACR phantom's own analysis replaces
    # the generic MR measures on an ACR set): analysed first; the tests it replaces are not run and say why.
    supersedes: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)


def run_flow(store: Store, flow: Flow) -> None:
    """The page: header, machine, uploader or demo, options; then the analyses (once per upload) and the layout."""
    p = flow.prefix
    st.title(flow.title)
    st.caption(flow.caption)
    if flow.guide:
        from pages.guide_link import guide_link

        guide_link(flow.guide, name=flow.title)
    machine = machine_selector(store, key=f"{p}_machine")
    if flow.above is not None:
        flow.above(store)
    uploads = session_uploader(T("ui.upload"), flow.accepts, key=f"{p}_upload")
    if st.button(T("ui.try_demo"), key=f"{p}_demo", icon=":material/science:", disabled=flow.demo is None):
        with st.spinner(T("ui.making_demo")):
            st.session_state[f"{p}_demo_inputs"] = flow.demo()
        _forget_saved(flow)
    opts = flow.options() if flow.options is not None else None
    inputs: Inputs = []
    if uploads:
        inputs = [(u.name, u.getvalue()) for u in uploads]
        st.session_state.pop(f"{p}_demo_inputs", None)
    elif st.session_state.get(f"{p}_demo_inputs"):
        inputs = st.session_state[f"{p}_demo_inputs"]
        st.caption(T("ui.using_demo", n=len(inputs)))
    if not inputs:
        st.info(T("ui.waiting_upload"))
        return
    outcome = analysed(store, flow, inputs, machine, opts)
    if outcome is not None:
        flow.layout(store, flow, outcome)


def save_key(flow: Flow, spec: TestSpec) -> str:
    """The widget-key prefix of a test's save block on this page (one test: the page's prefix)."""
    if len(flow.specs) == 1:
        return flow.prefix
    return flow.save_prefix(spec) if flow.save_prefix is not None else f"{flow.prefix}_{spec.key}"


def _forget_saved(flow: Flow) -> None:
    for spec in flow.specs:
        st.session_state.pop(f"{save_key(flow, spec)}_saved", None)


def analysed(store: Store, flow: Flow, inputs: Inputs, machine: dict | None, opts: dict | None) -> Outcome | None:
    """The analyses of these inputs, kept in the session while the inputs, machine, language, given date and
    options do not change. None when the page asked for the acquisition date or showed why nothing was analysed."""
    p = flow.prefix
    given = given_date_for(p, inputs)  # forgotten when the files change
    cache_key = _inputs_key(inputs, machine) + (given.isoformat() if given else "") + repr(sorted((opts or {}).items()))
    cached = st.session_state.get(f"{p}_analyses")
    if cached is not None and cached[0] == cache_key:
        return cached[1]
    st.session_state.pop(f"{p}_analyses", None)
    _forget_saved(flow)
    routed, left_out = None, []
    if flow.route is not None:
        try:
            routed, per_test, left_out = flow.route(inputs)
        except QCInputError as exc:
            st.error(md_escape(exc.message(lang())), icon=":material/error:")
            return None
    else:
        per_test = {spec.key: inputs for spec in flow.specs}
    analyses: dict[str, pipeline.Analysis] = {}
    refused: dict[str, str] = {}
    date_refusal: QCInputError | None = None
    owner = (current_user() or {}).get("username") or client_address()
    try:
        with st.spinner(T("ui.analysing")), analysis_slot(owner):  # one upload = one of the user's analyses
            for spec in sorted(flow.specs, key=lambda s: s.key not in flow.supersedes):
                if spec.key not in per_test or spec.key in refused:
                    continue
                try:
                    analyses[spec.key] = _analyse(store, flow, spec, per_test[spec.key], machine, opts, given)
                    for other in flow.supersedes.get(spec.key, ()):
                        refused[other] = T("mrq.superseded", test=spec.name(lang()))
                except QCInputError as exc:
                    if pipeline.needs_date(exc):  # the files' date: the same question for every test of the upload
                        date_refusal = exc
                        break
                    refused[spec.key] = exc.message(lang())
    except QCInputError as exc:  # the user's analyses are all running (qc.slots)
        st.error(md_escape(exc.message(lang())), icon=":material/error:")
        return None
    if date_refusal is not None:
        ask_date_after(p, date_refusal)
        return None
    outcome = Outcome(analyses, refused, routed, left_out)
    st.session_state[f"{p}_analyses"] = (cache_key, outcome)
    return outcome


def _analyse(store, flow: Flow, spec: TestSpec, inputs: Inputs, machine, opts, given) -> pipeline.Analysis:
    """One test's analysis; with the analyser's progress bar when the page shows one (the 3-D volumes)."""
    if not flow.progress:
        return pipeline.analyse(store, spec, inputs, machine, lang(), options=opts, acquired_at=given)
    bar = st.progress(0.0, text=T("mrl.page.analysing", test=spec.name(lang())))

    def progress(fraction: float, text: str) -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=text)

    try:
        return pipeline.analyse(store, spec, inputs, machine, lang(), options={**(opts or {}), "progress": progress}, acquired_at=given)
    finally:
        bar.empty()


def show_and_save(store: Store, flow: Flow, analysis: pipeline.Analysis, extra=None) -> int | None:
    """One analysis: the verdict and details (`show_analysis`), then its save block."""
    show_analysis(analysis, extra)
    st.divider()
    return save_block(store, analysis, save_key(flow, analysis.spec), same_test_only=flow.same_test_duplicates)


# ------------------------------------------------------------------ one test's page


def one_test_layout(view: TestView) -> Callable[[Store, Flow, Outcome], None]:
    def layout(store: Store, flow: Flow, outcome: Outcome) -> None:
        spec = flow.specs[0]
        if spec.key in outcome.refused:
            st.error(md_escape(outcome.refused[spec.key]), icon=":material/error:")
            return
        analysis = outcome.analyses[spec.key]
        sid = show_and_save(store, flow, analysis, view.extra)
        if view.baseline is not None and sid and analysis.machine is not None and allowed("baseline"):
            if st.button(T("ui.set_baseline"), key=f"{flow.prefix}_baseline"):
                pipeline.set_baseline(store, analysis, sid, view.baseline, operator())
                st.success(T("ui.baseline_set"))

    return layout


def test_page(key: str) -> None:
    """The page of the test `key`: the flow with that test's spec and its hooks (`pages.views.view_of`)."""
    from pages.views import view_of
    from qc.demo_inputs import demo_inputs_for

    store = get_store()
    spec = get_test(key, store)
    view = view_of(key)
    prefix = view.prefix or key
    flow = Flow(
        prefix=prefix,
        title=spec.name(lang()),
        caption=f"{T('freq.' + spec.frequency)} — {spec.description(lang())}",
        specs=[spec],
        accepts=[x.strip().lstrip(".") for x in spec.accepts.split(",") if x.strip()],
        demo=demo_inputs_for(spec.key),
        layout=one_test_layout(view),
        options=view.options,
        above=(lambda s: view.above(s, spec, prefix)) if view.above is not None else None,
        progress=view.progress,
        guide=spec.key,
    )
    run_flow(store, flow)


# ------------------------------------------------------------------ MR image quality: one series, every measure


def _verdict_first(done: list[TestSpec], analyses: dict) -> list[TestSpec]:
    """The ACR set's verdict first when it applies (it judges the whole set), then the worst verdicts first
    (failing, alert, pass, no tolerance), otherwise in the menu's order."""
    return sorted(done, key=lambda s: (s.key != "mr-acr", SEVERITY.get(analyses[s.key].status, 0)))


def _mr_image_layout(store: Store, flow: Flow, outcome: Outcome) -> None:
    done = [s for s in flow.specs if s.key in outcome.analyses]
    if not done:
        for spec in flow.specs:
            if spec.key in outcome.refused:
                st.error(md_escape(f"{spec.name(lang())} : {outcome.refused[spec.key]}"), icon=":material/error:")
        return
    done = _verdict_first(done, outcome.analyses)
    skipped = [(s.name(lang()), outcome.refused[s.key]) for s in flow.specs if s.key in outcome.refused]
    verdict_summary([(s.name(lang()), outcome.analyses[s.key].status) for s in done], skipped)
    # the first tab is the one open: the ACR set's verdict, else the worst measure
    tabs = st.tabs([f"{STATUS_ICON[outcome.analyses[s.key].status]} {s.name(lang())}" for s in done])
    for tab, spec in zip(tabs, done):
        with tab:
            show_and_save(store, flow, outcome.analyses[spec.key])


def _mr_image_demo() -> Inputs:
    from qc.demo_inputs import demo_inputs_for

    make = demo_inputs_for("mr-snr")
    return make() if make else []


def mr_image_page() -> None:
    """Qualité image IRM: one MR upload (a series, files, a folder's zip) → every MR image-quality measure that
    applies, each with its ROIs drawn, judged and saved as its own test; a measure that does not apply says why."""
    store = get_store()
    specs = [get_test(k, store) for k in MENU_GROUPS["mr-image"]]
    run_flow(store, Flow(
        prefix="mr_image",
        guide="mr-image",
        title=T("mrq.page.title"),
        caption=T("mrq.page.caption", measures=", ".join(s.name(lang()) for s in specs)),
        specs=specs,
        accepts=["dcm", "ima", "zip"],
        demo=_mr_image_demo,
        layout=_mr_image_layout,
        same_test_duplicates=True,
        # On an ACR set the ACR analysis measures SNR, uniformity, ghosting, slice thickness, geometry and resolution
        # with the method made for that phantom; the generic measures, made for other phantoms, read its inserts
        # and wedges as faults (hazen's Siemens ACR set failed uniformity, thickness and geometry).
        supersedes={"mr-acr": tuple(k for k in MENU_GROUPS["mr-image"] if k != "mr-acr")},
    ))


# ------------------------------------------------------------------ MR-Linac MRI QA: a study routed by series


def _mr_linac_route(inputs: Inputs) -> tuple[dict, dict[str, Inputs], list[str]]:
    from qc.mr.linac_series import route, series_inputs

    routed, left_out = route(inputs, lang())
    return routed, {key: series_inputs(series) for key, series in routed.items()}, left_out


def _mr_linac_layout(store: Store, flow: Flow, outcome: Outcome) -> None:
    import pandas as pd

    from pages.views import view_of

    for spec in flow.specs:  # a series that could not be analysed says why, first
        if spec.key in outcome.refused:
            st.error(md_escape(outcome.refused[spec.key]), icon=":material/error:")
    analyses = outcome.analyses
    shown = sorted((s for s in flow.specs if s.key in analyses), key=lambda s: SEVERITY.get(analyses[s.key].status, 0))
    if shown:
        verdict_summary([(s.name(lang()), analyses[s.key].status) for s in shown])
    routed = outcome.routed or {}
    rows = [
        {T("mrl.page.col_series"): s.label(), T("mrl.page.col_images"): len(s.slices), T("mrl.page.col_test"): spec.name(lang())}
        for spec in flow.specs
        for s in routed.get(spec.key, [])
    ]
    st.subheader(T("mrl.page.routed"))
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if outcome.left_out:
        with st.expander(f"{T('mrl.page.left_out')} ({len(outcome.left_out)})"):
            for line in outcome.left_out:
                st.text(line)
    if not routed:
        st.warning(T("mrl.page.nothing"))
        return
    for spec in shown:
        st.divider()
        st.header(f"{STATUS_ICON[analyses[spec.key].status]} {spec.name(lang())}")
        show_and_save(store, flow, analyses[spec.key], view_of(spec.key).extra)


def _mr_linac_demo() -> Inputs:
    from qc.synthetic import demo_moment
    from qc.synthetic.mr_linac import demo_study

    now, seed = demo_moment()
    return demo_study(now, seed=seed)


def mr_linac_page() -> None:
    """IRM MR-Linac: a whole exported MRI QA study; each series is recognised from its header and analysed by its
    test (B0 homogeneity, B0 versus gantry angle, B1, 3-D geometry), each saved on its own."""
    store = get_store()
    specs = [get_test(k, store) for k in MENU_GROUPS["mr-linac"]]

    def test_links(_store: Store) -> None:
        with st.expander(T("mrl.page.per_test")):
            for spec in specs:
                page = page_of(spec.key)
                if page is not None:
                    st.page_link(page, label=spec.name(lang()))

    run_flow(store, Flow(
        prefix="mr_linac",
        guide="mr-linac",
        title=T("mrl.page.title"),
        caption=T("mrl.page.caption"),
        specs=specs,
        accepts=["dcm", "zip"],
        demo=_mr_linac_demo,
        layout=_mr_linac_layout,
        route=_mr_linac_route,
        above=test_links,
        progress=True,
        save_prefix=lambda spec: "mrl_" + spec.key.replace("-", "_"),
    ))
