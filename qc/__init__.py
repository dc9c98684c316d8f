"""MR-Linac QC: analysers, storage, tolerances, charts and reports (no UI here).

Everything a page or the command line needs lives in this package; it never imports streamlit.
"""

import os

__version__ = "0.1.0"

# One BLAS/OpenMP thread per process, unless the user set one: the analyses are small (fits over a few thousand
# pixels) and on the 2-core server several analyses run at once; multi-threaded OpenBLAS then oversubscribes the
# cores (17-image Winston-Lutz demo at load 1: 0.55 s wall / 0.56 s CPU on one thread, 1.2–1.5 s wall / 1.6–1.9 s CPU
# with the default threads; ~25× slower under heavy load). Read by OpenBLAS when numpy first loads, so app.py and
# `python -m qc` import this package before anything imports numpy (Streamlit itself does not).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
