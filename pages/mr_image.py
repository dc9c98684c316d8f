"""Qualité image IRM: one MR upload (a series, files, a folder's zip) → every MR image-quality measure that
applies, each with its ROIs drawn, judged against its dated tolerance and saved as its own test (so it is trended
like any other). A measure that does not apply says why in one sentence."""

from pages.common import ensure_navigation

ensure_navigation()


import hashlib

import streamlit as st

from pages.common import (
    SEVERITY,
    STATUS_ICON,
    T,
    session_uploader,

    ask_date_after,
    given_date_for,
    get_store,
    lang,
    machine_selector,
    md_escape,
    operator,
    show_analysis,
    tests,
    verdict_summary,
)
from qc import pipeline
from qc.errors import DuplicateUploadError, QCInputError

# The image-quality measures this page runs, in this order, when they are registered.
MEASURES = ("mr-snr", "mr-uniformity", "mr-ghosting", "mr-slice-thickness", "mr-geometry", "mr-resolution", "mr-acr")
KEY = "mr_image"


def _inputs_key(inputs: list[tuple[str, bytes]], machine: dict | None) -> str:
    """Identity of an upload for this machine and language (the analyses are redone only when it changes)."""
    h = hashlib.sha256()
    for name, data in inputs:
        h.update(name.encode())
        h.update(hashlib.sha256(data).digest())
    h.update(str(machine["id"] if machine else "-").encode())
    h.update(lang().encode())
    return h.hexdigest()


def _demo() -> list[tuple[str, bytes]]:
    from qc.demo_inputs import demo_inputs_for

    make = demo_inputs_for("mr-snr")
    return make() if make else []


def save_measure(store, analysis: pipeline.Analysis, key: str) -> int | None:
    """The page's save button for one measure. As the common one, but the same files saved for ANOTHER
    measure of this page are not duplicates (one series feeds several tests); the same test twice is."""
    if analysis.machine is None:
        st.warning(T("ui.no_machine"))
        return None
    test = analysis.spec.key
    dups = [d for d in store.find_duplicates(analysis.result.files) if d.get("test") == test]
    allow = False
    if dups:
        d = dups[0]
        st.warning(T("ui.duplicate", file=md_escape(d["upload"].rsplit("/", 1)[-1]), session=d["session_id"], date=d["acquired_at"]))
        allow = st.checkbox(T("ui.duplicate_confirm"), key=f"{key}_dup_ok")
    comment = st.text_area(T("ui.comment"), key=f"{key}_comment", height=80)
    if st.button(T("ui.save"), key=f"{key}_save", type="primary", disabled=bool(dups) and not allow):
        if not operator():
            st.error(T("ui.operator_required"))
            return None
        try:
            sid = pipeline.store_analysis(store, analysis, operator=operator(), comment=comment, allow_duplicate=True)
        except DuplicateUploadError as exc:  # stored meanwhile by someone else
            st.error(md_escape(exc.message(lang())))
            return None
        st.session_state[f"{key}_saved"] = sid
    sid = st.session_state.get(f"{key}_saved")
    if sid:
        st.success(T("ui.saved", session=sid))
        st.page_link("pages/history.py", label=T("ui.see_history"), icon=":material/timeline:", query_params={"session": str(sid)})
    return sid


def verdict_first(done: list, results: dict) -> list:
    """The measures in the order they are shown: the ACR set's verdict first when it applies (it judges the
    whole set), then the worst verdicts first (failing, alert, pass, no tolerance), otherwise in MEASURES order."""
    return sorted(done, key=lambda s: (s.key != "mr-acr", SEVERITY.get(results[s.key].status, 0)))


def main() -> None:
    store = get_store()
    specs = {s.key: s for s in tests(store)}
    measures = [specs[k] for k in MEASURES if k in specs]
    st.title(T("mrq.page.title"))
    st.caption(T("mrq.page.caption", measures=", ".join(s.name(lang()) for s in measures)))
    from pages.guide_link import guide_link; guide_link("mr-image", name=T("mrq.page.title"))  # noqa: E702 - docs/guide
    machine = machine_selector(store, key=f"{KEY}_machine")
    uploads = session_uploader(T("ui.upload"), ["dcm", "ima", "zip"], key=f"{KEY}_upload")
    if st.button(T("ui.try_demo"), key=f"{KEY}_demo", icon=":material/science:"):
        with st.spinner(T("ui.making_demo")):
            st.session_state[f"{KEY}_demo_inputs"] = _demo()
    inputs: list[tuple[str, bytes]] = []
    if uploads:
        inputs = [(u.name, u.getvalue()) for u in uploads]
        st.session_state.pop(f"{KEY}_demo_inputs", None)
    elif st.session_state.get(f"{KEY}_demo_inputs"):
        inputs = st.session_state[f"{KEY}_demo_inputs"]
        st.caption(T("ui.using_demo", n=len(inputs)))
    if not inputs:
        st.info(T("ui.waiting_upload"))
        return
    given = given_date_for(KEY, inputs)
    cache_key = _inputs_key(inputs, machine) + (given.isoformat() if given else "")
    cached = st.session_state.get(f"{KEY}_analyses")
    if cached is None or cached[0] != cache_key:
        results: dict[str, object] = {}
        with st.spinner(T("ui.analysing")):
            for spec in measures:
                try:
                    results[spec.key] = pipeline.analyse(store, spec, inputs, machine, lang(), acquired_at=given)
                except QCInputError as exc:
                    if pipeline.needs_date(exc):  # the same for every measure: the files' date
                        st.session_state.pop(f"{KEY}_analyses", None)
                        ask_date_after(KEY, exc)
                        return
                    results[spec.key] = exc.message(lang())
        for spec in measures:
            st.session_state.pop(f"{KEY}_{spec.key}_saved", None)
        st.session_state[f"{KEY}_analyses"] = (cache_key, results)
    results = st.session_state[f"{KEY}_analyses"][1]
    done = [s for s in measures if not isinstance(results.get(s.key), str)]
    if not done:
        for spec in measures:
            st.error(md_escape(f"{spec.name(lang())} : {results[spec.key]}"), icon=":material/error:")
        return
    done = verdict_first(done, results)
    skipped = [(s.name(lang()), results[s.key]) for s in measures if isinstance(results.get(s.key), str)]
    verdict_summary([(s.name(lang()), results[s.key].status) for s in done], skipped)
    # the first tab is the one open: the ACR set's verdict, else the worst measure
    tabs = st.tabs([f"{STATUS_ICON[results[s.key].status]} {s.name(lang())}" for s in done])
    for tab, spec in zip(tabs, done):
        with tab:
            analysis = results[spec.key]
            show_analysis(analysis)
            st.divider()
            save_measure(store, analysis, f"{KEY}_{spec.key}")


main()
