"""IRM : résolution spatiale — FTM par bord incliné."""

from pages.common import ensure_navigation

ensure_navigation()


from pages.common import charts_of, image_test_page
from qc.mr import resolution

image_test_page("mr-resolution", extra=charts_of(resolution))
