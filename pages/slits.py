"""MVIC Fente: per leaf pair and slit, the slit centre and width, against baseline or nominal."""

from pages.common import ensure_navigation

ensure_navigation()


from pages.common import charts_of, image_test_page
from qc.mv import slits

image_test_page("slits", extra=charts_of(slits), baseline=getattr(slits, "baseline_from_result", None))
