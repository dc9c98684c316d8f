"""MR-Linac QC — Streamlit entry point: page frame, language, operator, and routing with st.navigation.

Every page lives in `pages/`; image tests have one file each, logged tests (defined by data, see
`qc.records.logged`) share `pages/logged.py` under their own URL. On first start with no database, the demo
database is built so that a newcomer sees real results at once.
"""

from __future__ import annotations

import qc  # noqa: F401  (first: one BLAS thread per process, set before numpy loads; see qc/__init__.py)
import streamlit as st

from pages import common

st.set_page_config(page_title="MR-Linac QC", page_icon=":material/radiology:", layout="wide")

store = common.get_store()
lang = common.lang()
T = common.T

tests = common.tests(store)
image_pages = [common.page_for(spec) for spec in tests if spec.kind in ("dicom", "report")]
image_pages.append(st.Page("pages/mr_image.py", title=T("mrq.nav.image_quality"), icon=":material/view_in_ar:", url_path="mr-image"))
image_pages.append(st.Page("pages/mr_linac.py", title=T("mrl.page.title"), icon=":material/folder_open:", url_path="mr-linac"))  # routes a whole MR-Linac MRI QA study
logged_pages = [common.page_for(spec) for spec in tests if spec.kind == "logged"]


def navigation_pages() -> dict:
    """The menu: sections and their pages (Settings only for those allowed to change tolerances)."""
    return {
        T("nav.section.home"): [st.Page("pages/home.py", title=T("nav.home"), icon=":material/home:", url_path="home", default=True)],
        T("nav.section.images"): image_pages,
        T("nav.section.logged"): logged_pages,
        T("nav.section.records"): [
            st.Page("pages/review.py", title=T("nav.review"), icon=":material/inbox:", url_path="review"),
            st.Page("pages/viewer.py", title=T("nav.viewer"), icon=":material/image_search:", url_path="viewer"),
            st.Page("pages/history.py", title=T("nav.history"), icon=":material/timeline:", url_path="history"),
            st.Page("pages/reports.py", title=T("nav.reports"), icon=":material/picture_as_pdf:", url_path="reports"),
        ]
        # Operators do not see Settings (tolerances, calibrations, users are for physicists and admins).
        + ([st.Page("pages/settings.py", title=T("nav.settings"), icon=":material/settings:", url_path="settings")]
           if common.allowed("tolerances") else []),
    }


with common.as_app_frame():
    common.sidebar(store)
    # Behind the login the pages are still registered (hidden, none runs): a bookmarked page then opens after the
    # login instead of Streamlit's "Page not found" (its legacy handling of the pages/ folder, see qc/launcher.py).
    common.login_gate(store, register_pages=lambda: st.navigation(navigation_pages(), position="hidden"))
nav = st.navigation(navigation_pages(), expanded=True)  # every test stays visible in the menu (no "View more")
common.set_current_page(nav, tests)
common.demo_banner(store)
common.run_in_frame(nav)
