"""How inputs come in: DICOM reading and validation (files, folders, zips), then automatic intake."""
