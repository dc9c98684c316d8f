"""IRM MR-Linac : B0 selon l'angle du bras (série de phase dynamique)."""

from pages.common import ensure_navigation

ensure_navigation()


from pages.mr_linac_common import mr_test_page
from qc.mr import b0_gantry

mr_test_page("mr-b0-gantry", b0_gantry)
