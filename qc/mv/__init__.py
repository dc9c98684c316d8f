"""MV (linac) side: the MV imager toolkit (geometry, MLC) and the MV image analysers."""
