"""IRM MR-Linac : fidélité géométrique 3D du fantôme à marqueurs grand champ."""

from pages.common import ensure_navigation

ensure_navigation()


from pages.mr_linac_common import mr_test_page
from qc.mr import geometry_3d

mr_test_page("mr-geometry-3d", geometry_3d)
