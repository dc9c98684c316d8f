"""MR-Linac QC — Streamlit entry point: page frame, language, operator, and routing with st.navigation.

The navigation is built from the test registry: every image/report test's page is the one page flow called with
its key (`pages/flow.py`, a function page under the test's key as URL), the two MR study pages are flow functions
too; logged tests (defined by data, see `qc.records.logged`) share `pages/logged.py` under `log_<key>`; the record
pages are files in `pages/`. On first start with no database, the demo
database is built so that a newcomer sees real results at once.
"""

from __future__ import annotations

import qc  # noqa: F401  (first: one BLAS thread per process, set before numpy loads; see qc/__init__.py)
import streamlit as st

from pages import common, flow
from qc.registry import FREQUENCIES, MENU_GROUPS
from streamlit.runtime.scriptrunner import get_script_run_ctx


def app() -> None:
    """The page frame around the page the URL names."""
    st.set_page_config(page_title="MR-Linac QC", page_icon=":material/radiology:", layout="wide")

    store = common.get_store()
    common.lang()  # this run's language, remembered for what is read outside a run (common.lang)
    T = common.T

    tests = common.tests(store)
    FREQ_ORDER = {f: i for i, f in enumerate(FREQUENCIES)}
    grouped = {key for keys in MENU_GROUPS.values() for key in keys}
    pages_by_key = {spec.key: common.page_for(spec) for spec in tests}
    study_pages = {
        "mr-image": st.Page(flow.mr_image_page, title=T("mrq.nav.image_quality"), icon=":material/view_in_ar:", url_path="mr-image"),
        "mr-linac": st.Page(flow.mr_linac_page, title=T("mrl.page.title"), icon=":material/folder_open:", url_path="mr-linac"),
    }
    # Daily and weekly tests first (what the team does most), then the rarer ones; the MR tests under their study page.
    ungrouped = sorted((s for s in tests if s.key not in grouped), key=lambda s: FREQ_ORDER.get(s.frequency, 99))
    frequent = [pages_by_key[s.key] for s in ungrouped if s.frequency in ("daily", "weekly")]
    rare = [pages_by_key[s.key] for s in ungrouped if s.frequency not in ("daily", "weekly")]
    mr_groups = [(study_pages[g], [pages_by_key[k] for k in keys if k in pages_by_key]) for g, keys in MENU_GROUPS.items()]
    home = st.Page("pages/home.py", title=T("nav.home"), icon=":material/home:", url_path="home", default=True)
    def records() -> list:
        """The record pages; Settings only for those allowed to change tolerances (asked at each call: after the login
        gate has re-read the user, so a role changed by an admin applies at the next click)."""
        pages = [
            st.Page("pages/review.py", title=T("nav.review"), icon=":material/inbox:", url_path="review"),
            st.Page("pages/viewer.py", title=T("nav.viewer"), icon=":material/image_search:", url_path="viewer"),
            st.Page("pages/history.py", title=T("nav.history"), icon=":material/timeline:", url_path="history"),
            st.Page("pages/reports.py", title=T("nav.reports"), icon=":material/picture_as_pdf:", url_path="reports"),
        ]
        if common.allowed("tolerances"):  # operators do not see Settings (tolerances, calibrations, users)
            pages.append(st.Page("pages/settings.py", title=T("nav.settings"), icon=":material/settings:", url_path="settings"))
        return pages


    def menu() -> list[tuple[str, list]]:
        """The menu as the sidebar draws it: sections of pages, an MR study page with its tests under it."""
        return [
            (T("nav.section.home"), [home]),
            (T("nav.section.frequent"), frequent),
            (T("nav.section.rare"), rare),
            (T("nav.section.mr"), mr_groups),
            (T("nav.section.records"), records()),
        ]


    def navigation_pages() -> list:
        """Every page, registered with st.navigation (hidden: the sidebar menu is drawn by `common.draw_menu`)."""
        return [home, *frequent, *rare, *[p for study, subs in mr_groups for p in (study, *subs)], *records()]


    menu_slot = st.sidebar.container()  # the menu stands above the language and the operator's name
    with common.as_app_frame():
        common.sidebar(store)
        # Behind the login the pages are still registered (hidden, none runs): a bookmarked page then opens after the
        # login instead of Streamlit's "Page not found" (its legacy handling of the pages/ folder, see qc/launcher.py).
        common.login_gate(store, register_pages=lambda: st.navigation(navigation_pages(), position="hidden"))
    every_page = navigation_pages()
    common.remember_pages(every_page)  # the links between pages drawn by page functions (common.page_of)
    nav = st.navigation(every_page, position="hidden")
    with menu_slot:
        common.draw_menu(menu(), nav)
    common.set_current_page(nav, tests)
    common.demo_banner(store)
    common.run_in_frame(nav)


# Only under Streamlit (`streamlit run`, AppTest): a process started with multiprocessing's "spawn" re-imports the
# main script of its parent, and after an AppTest (or in the server) that is this file — imported bare it must draw
# nothing, open no database and start nothing (before, such workers of the test processes hung or died).
if get_script_run_ctx(suppress_warning=True) is not None:
    app()
