"""Synthetic MR images with known truth, written as real DICOM MR Image Storage files.

Owns `mr_image_bytes` (one MR Image file, realistic 1.5 T Philips-like header; other MR generators such as
qc.synthetic.mr_phantoms reuse it), `enhanced_mr_bytes` (one Enhanced MR multi-frame object), and the
uniform-phantom generators for SNR, uniformity and ghosting whose truth is known analytically:

- signal S inside a disc (edge blurred over ~1 pixel: partial volume the analysers do not model),
- complex Gaussian noise of σ per channel, magnitude taken: the background is Rician (Rayleigh where S = 0,
  mean σ·√(π/2), SD σ·√(2−π/2)); inside the phantom the magnitude noise SD is σ to better than 0.1 % for S/σ > 20,
- a smooth multiplicative non-uniformity (coil-like linear + quadratic shading) of known amplitude,
- a ghost: a copy of the phantom shifted by half the field of view along the phase-encoding direction,
  of known fractional amplitude (added to the complex signal before the magnitude is taken).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from qc.intake.dicom_io import ENHANCED_MR_IMAGE_STORAGE, MR_IMAGE_STORAGE

STATION = "UNITY-MR-DEMO"
SERIAL = "DEMO-MR-0001"

_DEFAULTS: dict[str, Any] = dict(
    pixel_spacing_mm=(0.9765625, 0.9765625),
    slice_thickness_mm=5.0,
    position_mm=None,  # default: image centred on the isocentre, transverse
    orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
    series_uid=None,
    series_number=301,
    series_description="QA_FLOOD_SE",
    instance_number=1,
    image_type=("ORIGINAL", "PRIMARY", "M_SE", "M", "SE"),
    acquired_at=dt.datetime(2026, 11, 2, 7, 30, 0),
    echo_time_ms=30.0,
    repetition_time_ms=1000.0,
    flip_angle_deg=90.0,
    pixel_bandwidth_hz=217.0,
    number_of_averages=1.0,
    imaging_frequency_mhz=63.86,
    phase_encoding_direction="ROW",
    temporal_position=None,
    manufacturer="Philips Medical Systems",
    station_name=STATION,
    device_serial=SERIAL,
    model="Marlin",
    rescale_slope=1.0,
    rescale_intercept=0.0,
    modality="MR",
    study_uid=None,
    sop_instance_uid=None,
)


def _meta(sop_class: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = generate_uid()
    return meta


def _stored(pixels: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    """Real-valued pixels to uint16 stored values (value = stored × slope + intercept)."""
    stored = np.rint((np.asarray(pixels, dtype=np.float64) - intercept) / slope)
    return np.clip(stored, 0, 65535).astype(np.uint16)


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _common(ds: Dataset, h: dict[str, Any], rows: int, cols: int) -> None:
    ds.StudyInstanceUID = h["study_uid"] or generate_uid()
    ds.SeriesInstanceUID = h["series_uid"] or generate_uid()
    ds.Modality = h["modality"]
    ds.Manufacturer = h["manufacturer"]
    ds.ManufacturerModelName = h["model"]
    ds.StationName = h["station_name"]
    ds.DeviceSerialNumber = h["device_serial"]
    ds.PatientName = "QC^MR-PHANTOM"
    ds.PatientID = "QC-MR"
    ds.StudyID = "QC"
    ds.SeriesNumber = h["series_number"]
    ds.SeriesDescription = h["series_description"]
    ds.ProtocolName = h["series_description"]
    ds.ImageType = list(h["image_type"])
    ds.MagneticFieldStrength = "1.5"
    ds.ImagingFrequency = _fmt(h["imaging_frequency_mhz"])
    ds.PixelBandwidth = _fmt(h["pixel_bandwidth_hz"])
    ds.NumberOfAverages = _fmt(h["number_of_averages"])
    ds.ScanningSequence = "SE"
    ds.SequenceVariant = "NONE"
    ds.MRAcquisitionType = "2D"
    when: dt.datetime | None = h["acquired_at"]
    if when is not None:
        day, tod = when.strftime("%Y%m%d"), when.strftime("%H%M%S")
        ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = day
        ds.StudyTime = ds.SeriesTime = ds.AcquisitionTime = ds.ContentTime = tod
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0


def _default_position(rows: int, cols: int, spacing: Sequence[float], orientation: Sequence[float],
                      location_mm: float = 0.0) -> list[float]:
    r, c = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    n = np.cross(r, c)
    centre = n * location_mm
    pos = centre - r * spacing[1] * (cols - 1) / 2 - c * spacing[0] * (rows - 1) / 2
    return [float(v) for v in pos]


def mr_image_bytes(pixels: np.ndarray, **header: Any) -> bytes:
    """One DICOM MR Image Storage file (Part 10) holding `pixels` (real values, ≥ 0).

    Keyword arguments (see `_DEFAULTS`): pixel_spacing_mm (row, col), slice_thickness_mm, position_mm
    (ImagePositionPatient; default centres the image on the isocentre), orientation (6 cosines),
    series_uid, series_number, series_description, instance_number, image_type, acquired_at (None: no
    date in the header), echo_time_ms, repetition_time_ms, flip_angle_deg, pixel_bandwidth_hz,
    number_of_averages, imaging_frequency_mhz, phase_encoding_direction ("ROW"/"COL"), temporal_position,
    manufacturer, station_name, device_serial, model, rescale_slope, rescale_intercept, modality,
    study_uid, sop_instance_uid. Any other CamelCase keyword is set as that DICOM attribute as is
    (e.g. SliceLocation=12.5); `real_world_slope=` adds a Philips-style Real World Value Mapping.
    """
    extra = {k: v for k, v in header.items() if k[:1].isupper()}
    rwv_slope = header.pop("real_world_slope", None)
    h = {**_DEFAULTS, **{k: v for k, v in header.items() if not k[:1].isupper()}}
    unknown = set(h) - set(_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown header argument(s): {sorted(unknown)}")
    pixels = np.asarray(pixels)
    rows, cols = pixels.shape
    meta = _meta(MR_IMAGE_STORAGE)
    ds = FileDataset("synthetic_mr.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = MR_IMAGE_STORAGE
    ds.SOPInstanceUID = h["sop_instance_uid"] or meta.MediaStorageSOPInstanceUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    _common(ds, h, rows, cols)
    ds.InstanceNumber = h["instance_number"]
    ds.PixelSpacing = [_fmt(h["pixel_spacing_mm"][0]), _fmt(h["pixel_spacing_mm"][1])]
    if h["slice_thickness_mm"] is not None:
        ds.SliceThickness = _fmt(h["slice_thickness_mm"])
    orientation = h["orientation"]
    position = h["position_mm"] or _default_position(rows, cols, h["pixel_spacing_mm"], orientation)
    ds.ImageOrientationPatient = [_fmt(v) for v in orientation]
    ds.ImagePositionPatient = [_fmt(v) for v in position]
    n = np.cross(np.asarray(orientation[:3], float), np.asarray(orientation[3:], float))
    ds.SliceLocation = _fmt(float(np.dot(np.asarray(position, float), n)))
    ds.EchoTime = _fmt(h["echo_time_ms"])
    ds.RepetitionTime = _fmt(h["repetition_time_ms"])
    ds.FlipAngle = _fmt(h["flip_angle_deg"])
    if h["phase_encoding_direction"]:
        ds.InPlanePhaseEncodingDirection = h["phase_encoding_direction"]
    if h["temporal_position"] is not None:
        ds.TemporalPositionIdentifier = h["temporal_position"]
    slope, intercept = float(h["rescale_slope"]), float(h["rescale_intercept"])
    ds.RescaleSlope = _fmt(slope)
    ds.RescaleIntercept = _fmt(intercept)
    ds.RescaleType = "normalized"
    if rwv_slope is not None:
        item = Dataset()
        item.RealWorldValueFirstValueMapped = 0
        item.RealWorldValueLastValueMapped = 65535
        item.RealWorldValueIntercept = float(intercept)
        item.RealWorldValueSlope = float(rwv_slope)
        item.LUTLabel = "Philips"
        ds.RealWorldValueMappingSequence = DicomSequence([item])
    ds.PixelData = _stored(pixels, slope, intercept).tobytes()
    for k, v in extra.items():
        setattr(ds, k, v)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def enhanced_mr_bytes(
    frames: np.ndarray,
    locations_mm: Sequence[float],
    *,
    temporal_positions: Sequence[int] | None = None,
    rescale_slope: float = 1.0,
    **header: Any,
) -> bytes:
    """One Enhanced MR Image Storage object: `frames` (n, rows, cols) at `locations_mm` along the normal.

    Position, orientation, pixel spacing, timing and phase direction are written in the functional groups
    (per frame for position and temporal index, shared for the rest), as Philips scanners write them.
    """
    h = {**_DEFAULTS, **header}
    frames = np.asarray(frames)
    n, rows, cols = frames.shape
    meta = _meta(ENHANCED_MR_IMAGE_STORAGE)
    ds = FileDataset("synthetic_emr.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = ENHANCED_MR_IMAGE_STORAGE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    _common(ds, h, rows, cols)
    ds.InstanceNumber = 1
    ds.NumberOfFrames = n
    orientation = h["orientation"]
    shared = Dataset()
    pm = Dataset()
    pm.PixelSpacing = [_fmt(v) for v in h["pixel_spacing_mm"]]
    pm.SliceThickness = _fmt(h["slice_thickness_mm"])
    shared.PixelMeasuresSequence = DicomSequence([pm])
    po = Dataset()
    po.ImageOrientationPatient = [_fmt(v) for v in orientation]
    shared.PlaneOrientationSequence = DicomSequence([po])
    timing = Dataset()
    timing.RepetitionTime = h["repetition_time_ms"]
    timing.FlipAngle = h["flip_angle_deg"]
    shared.MRTimingAndRelatedParametersSequence = DicomSequence([timing])
    echo = Dataset()
    echo.EffectiveEchoTime = h["echo_time_ms"]
    shared.MREchoSequence = DicomSequence([echo])
    fov = Dataset()
    fov.InPlanePhaseEncodingDirection = h["phase_encoding_direction"]
    shared.MRFOVGeometrySequence = DicomSequence([fov])
    pvt = Dataset()
    pvt.RescaleSlope = _fmt(rescale_slope)
    pvt.RescaleIntercept = "0"
    pvt.RescaleType = "US"
    shared.PixelValueTransformationSequence = DicomSequence([pvt])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    per_frame = []
    for i in range(n):
        item = Dataset()
        pp = Dataset()
        pp.ImagePositionPatient = [_fmt(v) for v in _default_position(rows, cols, h["pixel_spacing_mm"], orientation,
                                                                       float(locations_mm[i]))]
        item.PlanePositionSequence = DicomSequence([pp])
        fc = Dataset()
        fc.TemporalPositionIndex = int(temporal_positions[i]) if temporal_positions is not None else 1
        fc.InStackPositionNumber = i + 1
        item.FrameContentSequence = DicomSequence([fc])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    ds.PixelData = _stored(frames, rescale_slope, 0.0).tobytes()
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


def read_back(data: bytes) -> pydicom.Dataset:
    """Convenience for tests: parse bytes written here."""
    return pydicom.dcmread(io.BytesIO(data))
