"""IRM : épaisseur de coupe — rampes inclinées opposées, profils de coupe."""

from pages.common import ensure_navigation

ensure_navigation()


from pages.common import charts_of, image_test_page
from qc.mr import slice_thickness

image_test_page("mr-slice-thickness", extra=charts_of(slice_thickness))
