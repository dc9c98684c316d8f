"""Position des lames: absolute leaf-end positions on the AQUA 20 mm gap pattern (and picket fences)."""

from pages.common import ensure_navigation

ensure_navigation()


from pages.common import charts_of, image_test_page
from qc import leaves

image_test_page("leaves", extra=charts_of(leaves))
