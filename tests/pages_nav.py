"""Opening the app's pages in AppTest. The image tests' pages and the MR study pages are functions made from the
registry (`pages.common.page_for`, `pages/flow.py`), not files, and `AppTest.switch_page` only knows files: a page is
opened by its URL path (a test's key, `mr-image`, `mr-linac`), which is what `st.Page` hashes to name a page."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash


def open_page(at: AppTest, page: str) -> AppTest:
    """Switch to `page`: a file under pages/ ("pages/history.py") or a URL path ("field", "mr-image"); then `.run()`.

    A URL path is turned into the page's script hash as `st.Page` makes it (the hash of its url_path; see
    streamlit/navigation/page.py `_script_hash`); the app must have run once (its navigation registered)."""
    if page.endswith(".py"):
        return at.switch_page(page)
    at._page_hash = calc_hash(page)
    return at


def image_test_keys() -> list[str]:
    """The keys (= URL paths) of every image/report test's page, from the registry."""
    from qc.registry import builtin_tests

    return [s.key for s in builtin_tests() if s.kind in ("dicom", "report")]
