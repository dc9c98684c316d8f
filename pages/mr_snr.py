"""MR SNR: single image and difference of two repeated acquisitions, ROIs drawn."""

from pages.common import ensure_navigation

ensure_navigation()


from pages.common import image_test_page
from qc.mr import snr

image_test_page(snr.KEY, baseline=snr.baseline_from_result)
