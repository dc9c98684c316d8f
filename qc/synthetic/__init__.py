"""Synthetic DICOM images with known true values: the ground truth for unit tests and the demo.

This package owns writing realistic DICOM files. `rt_image_bytes` writes an RT Image with the real
Elekta Unity MVIC header geometry (domain.md §0: 1024², 0.4 mm panel pitch, SID 2657.8 mm,
SAD 1435 mm, inverted polarity: unirradiated pixels near 65535, open beam near 25 000).
Each test's generator (field, mlc, ...) lives in its own module here and calls it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from qc.readers.dicom_io import RT_IMAGE_STORAGE

# While `reproducible_uids(key)` is active, `new_uid()` derives each UID from the key and a counter, so that
# the same generator call with the same seed writes the same bytes (the demo regenerates the images of its
# older sessions on demand and checks them against the stored sha256); otherwise UIDs are random, as a
# scanner's are.
_uid_stream: list | None = None


@contextlib.contextmanager
def reproducible_uids(key: str):
    """Make every `new_uid()` inside the block a function of `key` and its rank (same key → same UIDs)."""
    global _uid_stream
    previous, _uid_stream = _uid_stream, [key, 0]
    try:
        yield
    finally:
        _uid_stream = previous


def new_uid() -> str:
    """A DICOM UID: random, or reproducible inside `reproducible_uids`."""
    if _uid_stream is None:
        return generate_uid()
    _uid_stream[1] += 1
    return generate_uid(entropy_srcs=[str(_uid_stream[0]), str(_uid_stream[1])])


UNITY_ROWS = 1024
UNITY_COLS = 1024
UNITY_PANEL_PITCH_MM = 0.4
UNITY_SID_MM = 2657.8
UNITY_SAD_MM = 1435.0
UNITY_CAX_PX = (511.03, 652.75)  # (u, v), department calibration, domain.md §0.5
UNITY_PIXEL_ISO_MM = UNITY_PANEL_PITCH_MM * UNITY_SAD_MM / UNITY_SID_MM  # 0.2160 mm
UNITY_STATION = "UNITY-DEMO"
UNITY_SERIAL = "DEMO-0001"

OPEN_BEAM_DROP = 40000.0  # raw units the open beam takes off the 65535 background


def unity_raw_from_signal(signal: np.ndarray, inverted: bool = True, full_scale: float = OPEN_BEAM_DROP) -> np.ndarray:
    """Relative dose (1 = open field) to 16-bit raw values with the Unity's inverted polarity."""
    dose = np.clip(signal, 0, None) * full_scale
    raw = 65535.0 - dose if inverted else dose + 1000.0
    return np.clip(np.rint(raw), 0, 65535).astype(np.uint16)


def rt_image_bytes(
    raw: np.ndarray,
    *,
    acquired_at: dt.datetime,
    label: str = "MVICIMRTSegment",
    station_name: str = UNITY_STATION,
    device_serial: str = UNITY_SERIAL,
    panel_pitch_mm: float = UNITY_PANEL_PITCH_MM,
    sid_mm: float = UNITY_SID_MM,
    sad_mm: float = UNITY_SAD_MM,
    gantry_deg: float = 0.0,
    patient_name: str = "QC^DEMO",
    patient_id: str = "QC-DEMO",
    study_id: str = "QC",
    extra: dict | None = None,
) -> bytes:
    """A complete DICOM RT Image (Part 10 file) holding `raw` (uint16), Unity-like header."""
    raw = np.ascontiguousarray(raw.astype(np.uint16))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RT_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = new_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = new_uid()
    ds = FileDataset("synthetic.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = RT_IMAGE_STORAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = new_uid()
    ds.SeriesInstanceUID = new_uid()
    ds.Modality = "RTIMAGE"
    ds.Manufacturer = "ELEKTA"
    ds.ManufacturerModelName = "ELEKTA UNITY MVIC"
    ds.StationName = station_name
    ds.DeviceSerialNumber = device_serial
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.StudyID = study_id
    day = acquired_at.strftime("%Y%m%d")
    tod = acquired_at.strftime("%H%M%S")
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = day
    ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = tod
    ds.RTImageLabel = label
    ds.ImageType = ["ORIGINAL", "PRIMARY", "PORTAL"]
    ds.ConversionType = "DI"
    ds.RTImagePlane = "NORMAL"
    ds.ImagePlanePixelSpacing = [f"{panel_pitch_mm:.3f}", f"{panel_pitch_mm:.3f}"]
    ds.RTImagePosition = [f"{-panel_pitch_mm * (raw.shape[1] - 1) / 2:.2f}", f"{panel_pitch_mm * (raw.shape[0] - 1) / 2:.2f}"]
    ds.RTImageSID = f"{sid_mm:.2f}"
    ds.RadiationMachineSAD = f"{sad_mm:.2f}"
    ds.GantryAngle = f"{gantry_deg:.2f}"
    ds.PrimaryDosimeterUnit = "MU"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = raw.shape
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = raw.tobytes()
    for k, v in (extra or {}).items():
        setattr(ds, k, v)
    buf = io.BytesIO()
    try:
        ds.save_as(buf, enforce_file_format=True)
    except TypeError:  # pydicom 2 (the bench's peer venv, where pylinac pins it): same file, older keyword
        ds.save_as(buf, write_like_original=False)
    return buf.getvalue()


def demo_moment() -> tuple[dt.datetime, int]:
    """Now (to the second) and a seed drawn from it: each "try with a demo image" click gives a new,
    reproducible session acquired now."""
    now = dt.datetime.now().replace(microsecond=0)
    return now, int(now.timestamp()) % 100000


def add_noise(signal: np.ndarray, rng: np.random.Generator, relative_sd: float) -> np.ndarray:
    """Gaussian noise proportional to a fraction of the open-field signal."""
    return signal + rng.normal(0.0, relative_sd, signal.shape)


def read_back(data: bytes) -> pydicom.Dataset:
    """Convenience for tests: parse bytes written here."""
    return pydicom.dcmread(io.BytesIO(data))


def shifted_image_bytes(data: bytes, du: float, dv: float) -> bytes:
    """The same DICOM image moved by (du, dv) pixels (cubic spline, edges continued), written as a proper
    DICOM file: a sub-pixel translation must change no distance measured within the image (tests, bench).
    Files without file meta (the pylinac demo) are read as Implicit VR Little Endian."""
    from scipy import ndimage

    ds = pydicom.dcmread(io.BytesIO(data), force=True)
    if not getattr(ds, "file_meta", None) or "TransferSyntaxUID" not in ds.file_meta:
        ds.file_meta = pydicom.dataset.FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    arr = ds.pixel_array
    moved = ndimage.shift(arr.astype(float), (dv, du), order=3, mode="nearest")
    ds.PixelData = np.clip(np.rint(moved), 0, np.iinfo(arr.dtype).max).astype(arr.dtype).tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()
