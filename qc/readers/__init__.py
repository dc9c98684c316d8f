"""Readers: DICOM files, archives and MR series turned into checked headers and pixel arrays.

The layer below the analysers: `dicom_io` (files, zips and folders through one bounded reader, validation, the
acquisition date) and `mr_series` (MR series grouped and ordered by their headers). They know nothing of tests,
storage or the receiver, which all read through them.
"""
