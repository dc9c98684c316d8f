"""IRM MR-Linac : B1 relatif par la méthode du double angle."""

from pages.common import ensure_navigation

ensure_navigation()


from pages.mr_linac_common import mr_test_page
from qc.mr import b1

mr_test_page("mr-b1", b1)
