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
from pydicom.uid import ExplicitVRLittleEndian

from qc.readers.dicom_io import ENHANCED_MR_IMAGE_STORAGE, MR_IMAGE_STORAGE
from qc.synthetic import new_uid

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
    meta.MediaStorageSOPInstanceUID = new_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = new_uid()
    return meta


def _stored(pixels: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    """Real-valued pixels to uint16 stored values (value = stored × slope + intercept)."""
    stored = np.rint((np.asarray(pixels, dtype=np.float64) - intercept) / slope)
    return np.clip(stored, 0, 65535).astype(np.uint16)


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _common(ds: Dataset, h: dict[str, Any], rows: int, cols: int) -> None:
    ds.StudyInstanceUID = h["study_uid"] or new_uid()
    ds.SeriesInstanceUID = h["series_uid"] or new_uid()
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


# ---------------------------------------------------------------- uniform (flood) phantom with known truth


@dataclass
class FloodTruth:
    """What a flood image was made with, and the figures that follow from it analytically."""

    signal: float  # S at the phantom centre (before the ghost is added)
    sigma: float  # noise SD per channel (magnitude noise SD inside the phantom)
    radius_mm: float
    ramp: float  # fractional left-right shading at the phantom edge: f = 1 + ramp · x / R
    ghost: float  # ghost amplitude as a fraction of S, in the phase-encoding band
    phase_direction: str
    spacing_mm: float
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def snr(self) -> float:
        """Signal / noise inside the phantom (S/σ; the linear shading averages out over symmetric ROIs)."""
        return self.signal / self.sigma

    def integral_uniformity_pct(self) -> float:
        """NEMA U over the 75 %-area disc: extremes 1 ± ramp·√0.75."""
        return 100.0 * (1.0 - self.ramp * np.sqrt(0.75))

    def piu_pct(self) -> float:
        """ACR PIU: 1 cm² disc means of a linear shading are its value at their centre, at ±(r_L − r_s)."""
        area = min(20000.0, 0.75 * np.pi * self.radius_mm ** 2)
        r_large, r_small = np.sqrt(area / np.pi), np.sqrt(100.0 / np.pi)
        return 100.0 * (1.0 - self.ramp * (r_large - r_small) / self.radius_mm)

    def fractional_uniformity_pct(self, axis: str) -> float:
        """IPEM fraction of the profile (160 mm, or 90 % of the diameter) within ±10 % of the centre value."""
        length = min(160.0, 0.9 * 2 * self.radius_mm)
        along_ramp = axis == "horizontal"
        if not along_ramp or self.ramp == 0:
            return 100.0
        return 100.0 * min(1.0, 2 * 0.1 * self.radius_mm / self.ramp / length)

    def ghosting_pct(self) -> float:
        """Ghost / phantom: the band adds g·S outside and inside the phantom (phantom mean S(1 + g))."""
        return 100.0 * self.ghost / (1.0 + self.ghost)


def flood_image(
    shape: tuple[int, int] = (256, 256),
    spacing_mm: float = 0.9765625,
    radius_mm: float = 95.0,
    signal: float = 1000.0,
    sigma: float = 5.0,
    ramp: float = 0.0,
    ghost: float = 0.0,
    phase_direction: str = "ROW",
    centre_offset_mm: tuple[float, float] = (0.0, 0.0),
    seed: int = 0,
) -> tuple[np.ndarray, FloodTruth]:
    """Magnitude image of a uniform disc phantom.

    Not the analysers' model: the disc edge is partial-volume blurred (4× supersampled), the noise is complex
    Gaussian so the background is Rician/Rayleigh, and the ghost is a band of constant amplitude g·S along
    the phase-encoding direction over the phantom's extent in the frequency direction, added to the complex
    signal (inside the phantom too) before the magnitude is taken.
    """
    rng = np.random.default_rng(seed)
    rows, cols = shape
    ss = 4
    yy = (np.arange(rows * ss) + 0.5) / ss - 0.5 - (rows - 1) / 2 - centre_offset_mm[0] / spacing_mm
    xx = (np.arange(cols * ss) + 0.5) / ss - 0.5 - (cols - 1) / 2 - centre_offset_mm[1] / spacing_mm
    r_px = radius_mm / spacing_mm
    inside = ((yy[:, None] ** 2 + xx[None, :] ** 2) <= r_px ** 2).astype(np.float32)
    coverage = inside.reshape(rows, ss, cols, ss).mean(axis=(1, 3))
    y = (np.arange(rows) - (rows - 1) / 2) * spacing_mm - centre_offset_mm[0]
    x = (np.arange(cols) - (cols - 1) / 2) * spacing_mm - centre_offset_mm[1]
    shading = 1.0 + ramp * x[None, :] / radius_mm + 0.0 * y[:, None]
    real = signal * coverage * shading
    if ghost:
        if phase_direction == "ROW":  # ghosts displaced along a row: the band is the phantom's rows
            band = (np.abs(y) <= radius_mm)[:, None] * np.ones((1, cols))
        else:
            band = np.ones((rows, 1)) * (np.abs(x) <= radius_mm)[None, :]
        real = real + ghost * signal * band
    noisy = np.hypot(real + rng.normal(0.0, sigma, shape), rng.normal(0.0, sigma, shape))
    truth = FloodTruth(signal, sigma, radius_mm, ramp, ghost, phase_direction, spacing_mm)
    return noisy.astype(np.float32), truth


def flood_dicom(when: dt.datetime | None = None, instance: int = 1, series_uid: str | None = None,
                series_number: int = 301, description: str = "QA_FLOOD_SE", **kwargs: Any) -> tuple[bytes, FloodTruth]:
    """`flood_image` written as an MR Image (stored ×4 so that the noise keeps its resolution in uint16)."""
    pixels, truth = flood_image(**kwargs)
    spacing = kwargs.get("spacing_mm", 0.9765625)
    data = mr_image_bytes(
        pixels, rescale_slope=0.25, pixel_spacing_mm=(spacing, spacing), acquired_at=when or _DEFAULTS["acquired_at"],
        instance_number=instance, series_uid=series_uid, series_number=series_number, series_description=description,
        phase_encoding_direction=kwargs.get("phase_direction", "ROW"),
    )
    return data, truth


def demo_snr(when: dt.datetime, seed: int = 0) -> list[tuple[str, bytes]]:
    """Two repeated flood acquisitions (one series each), SNR ≈ 200."""
    out = []
    for k in range(2):
        data, _ = flood_dicom(when + dt.timedelta(minutes=2 * k), series_number=301 + k, sigma=5.0, ramp=0.05,
                              seed=seed + k)
        out.append((f"FLOOD_SNR_{k + 1}.dcm", data))
    return out


def demo_uniformity(when: dt.datetime, seed: int = 0) -> list[tuple[str, bytes]]:
    """One flood image with 8 % left-right shading."""
    data, _ = flood_dicom(when, sigma=4.0, ramp=0.08, seed=seed)
    return [("FLOOD_UNIFORMITE.dcm", data)]


def demo_ghosting(when: dt.datetime, seed: int = 0) -> list[tuple[str, bytes]]:
    """One flood image with a 1.5 % ghost band along the phase direction."""
    data, _ = flood_dicom(when, sigma=2.0, ghost=0.015, radius_mm=80.0, seed=seed)
    return [("FLOOD_GHOSTING.dcm", data)]
