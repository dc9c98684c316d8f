"""MR-Linac QC: analysers, storage, tolerances, charts and reports (no UI here).

Everything a page or the command line needs lives in this package; it never imports streamlit.
"""

__version__ = "0.1.0"
