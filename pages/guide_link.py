"""The « Guide d'utilisation » button of a test page: the guide's page for that test (docs/guide/, read by
`qc.guide`) shown in a dialog by the app itself, so that it opens on an intranet without internet. The dialog is
drawn only when asked (its pictures are not sent with every run of the page)."""

from __future__ import annotations

import streamlit as st

from pages.common import T
from qc import guide


def _show(title: str, text: str) -> None:
    @st.dialog(title, width="large")
    def dialog() -> None:
        for block in guide.blocks(text):
            if block.kind == "image":
                st.image(str(block.path), caption=block.text)
            else:
                st.markdown(block.text)  # the guide's own markdown; Streamlit escapes any HTML in it

    dialog()


def guide_link(key: str, name_fr: str | None = None, name: str | None = None) -> None:
    """A small button under the page's title that opens the guide of the test (or study page) `key`; nothing when
    the guide has no page for it. `name_fr`: a logged test's French name (its section of the logged tests' page);
    `name`: the title shown on the dialog."""
    text = guide.page_text(key, name_fr)
    if text is None:
        return
    if st.button(T("guide.open"), key=f"guide_open_{key}", icon=":material/menu_book:", type="tertiary", help=T("guide.help")):
        _show(T("guide.title", test=name or name_fr or key), text)
