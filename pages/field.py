"""MVIC-Champ: fields on the MV imager — size, position, corners, penumbra, profile constancy."""

from pages.common import ensure_navigation

ensure_navigation()


from pages.common import charts_of, image_test_page
from qc.mv import field

image_test_page("field", extra=charts_of(field), baseline=field.baseline_from_result)
