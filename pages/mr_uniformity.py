"""MR uniformity: NEMA integral, IPEM fractional, ACR PIU, regions drawn."""

from pages.common import ensure_navigation

ensure_navigation()


from pages.common import image_test_page
from qc.mr import uniformity

image_test_page(uniformity.KEY)
