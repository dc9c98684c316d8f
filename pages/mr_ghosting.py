"""MR ghosting along the phase-encoding direction, ROIs drawn."""

from pages.common import ensure_navigation

ensure_navigation()


from pages.common import image_test_page
from qc.mr import ghosting

image_test_page(ghosting.KEY)
