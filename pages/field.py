"""MVIC-Champ: fields on the MV imager — size, position, corners, penumbra, profile constancy."""

from pages.common import ensure_navigation

ensure_navigation()

import streamlit as st

from pages.common import T, charts_of, image_test_page, lang
from qc.errors import QCInputError
from qc.mv import field


def _options() -> dict:
    """The nominal field of the session, when the images' headers do not give the jaws."""
    text = st.text_input(T("field.nominal.label"), key="field_nominal", placeholder="100x100", help=T("field.nominal.help"))
    try:
        nominal = field.parse_nominal_mm(text)
    except QCInputError as exc:
        st.error(exc.message(lang()))
        return {}
    return {"nominal_field_mm": nominal} if nominal else {}


image_test_page("field", extra=charts_of(field), baseline=field.baseline_from_result, options=_options)
