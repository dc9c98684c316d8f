"""IRM : géométrie — distances entre tiges ou diamètres du fantôme."""

from pages.common import ensure_navigation

ensure_navigation()


from pages.common import image_test_page

image_test_page("mr-geometry")
