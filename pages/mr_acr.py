"""IRM : fantôme ACR — série axiale de 11 coupes."""

from pages.common import ensure_navigation

ensure_navigation()


from pages.common import image_test_page

image_test_page("mr-acr")
