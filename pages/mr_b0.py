"""IRM MR-Linac : homogénéité B0 (cartes B0 Philips)."""

from pages.common import ensure_navigation

ensure_navigation()


from pages.mr_linac_common import mr_test_page
from qc.mr import b0

mr_test_page("mr-b0", b0)
