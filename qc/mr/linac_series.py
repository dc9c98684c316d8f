"""MR-Linac MRI QA intake: read Philips MR exports, group them into series, route each series to its test.

Owns what the four MR-Linac MRI QA analysers (`qc.mr.b0`, `qc.mr.b0_gantry`, `qc.mr.b1`,
`qc.mr.geometry_3d`) share:
- `scan_headers`: every file's header (pixels not decoded), grouped by SeriesInstanceUID, each slice
  with its geometry (ImagePositionPatient, ImageOrientationPatient, PixelSpacing), rescale
  (RescaleSlope/Intercept/Type), ImageType, temporal position, echo time, flip angle and f0;
- `series_test`: which test a series belongs to, from its headers alone (an uploaded study is routed);
- `slice_pixels`: one slice decoded and rescaled (float32), so that a caller can stream a volume;
- geometry helpers: patient coordinates (mm) of every pixel of a slice, the DSV sphere mask;
- `acquisition_of`: the acquisition date from the header, else the user's (never the upload time).

Why not `qc.intake.mr_series.load_mr_series`: that reader decodes every slice into memory; the 3-D
geometry volume (400 × 512², ≈ 200 MB of DICOM) must be read slice by slice into one preallocated
array, and routing needs headers only. Files that are not MR images are listed, never silently dropped.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field

import numpy as np
import pydicom

from qc.errors import QCInputError
from qc.i18n import t
from qc.intake.dicom_io import acquisition_datetime, expand_inputs, sha256_of
from qc.results import InputFile

MR_SOP_CLASSES = {"1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.5.1.4.1.1.4.1"}

B0, GANTRY, B1, GEOMETRY = "mr-b0", "mr-b0-gantry", "mr-b1", "mr-geometry-3d"


@dataclass
class SliceHeader:
    """One MR image as its header describes it (pixels still encoded in `data`)."""

    file: InputFile
    data: bytes = field(repr=False)
    series_uid: str
    series_number: int | None
    description: str
    image_type: tuple[str, ...]
    rows: int
    cols: int
    pixel_spacing_mm: tuple[float, float]  # (between rows, between columns)
    slice_thickness_mm: float | None
    position_mm: np.ndarray  # ImagePositionPatient
    orientation: np.ndarray  # 6 direction cosines (row direction, column direction)
    temporal_position: int | None
    n_temporal_positions: int | None
    instance_number: int | None
    echo_time_ms: float | None
    flip_angle_deg: float | None
    imaging_frequency_mhz: float | None
    slope: float
    intercept: float
    rescale_type: str
    acquired_at: dt.datetime | None
    station_name: str
    device_serial: str
    manufacturer: str
    sequence: str = ""

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.orientation[:3], self.orientation[3:])

    @property
    def along_normal_mm(self) -> float:
        return float(self.position_mm @ self.normal)

    @property
    def is_phase(self) -> bool:
        return any("PHASE" in s for s in self.image_type) or self.rescale_type.lower() == "mrad"

    @property
    def is_b0_map(self) -> bool:
        return any("B0" in s for s in self.image_type) or self.rescale_type.lower() == "hz"

    @property
    def is_magnitude(self) -> bool:
        return not (self.is_phase or self.is_b0_map)

    @property
    def orientation_name(self) -> str:
        """transverse / coronal / sagittal: the patient axis closest to the slice normal."""
        return ("sagittal", "coronal", "transverse")[int(np.argmax(np.abs(self.normal)))]


@dataclass
class SeriesHeaders:
    uid: str
    number: int | None
    description: str
    slices: list[SliceHeader]  # sorted by temporal position, then along the normal

    @property
    def first(self) -> SliceHeader:
        return self.slices[0]

    def label(self) -> str:
        num = "" if self.number is None else f"{self.number} "
        return f"{num}{self.description}".strip() or self.uid[-12:]


def _f(value, default: float | None = None) -> float | None:
    try:
        v = float(value)
        return v if np.isfinite(v) else default
    except (TypeError, ValueError):
        return default


def _i(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _header(name: str, data: bytes) -> pydicom.Dataset | None:
    try:
        return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    except Exception:
        try:
            ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
        except Exception:
            return None
        return ds if "SOPClassUID" in ds else None


def slice_header(name: str, data: bytes, ds: pydicom.Dataset) -> SliceHeader:
    acquired, _ = acquisition_datetime(ds)
    spacing = ds.get("PixelSpacing")
    ipp = ds.get("ImagePositionPatient")
    iop = ds.get("ImageOrientationPatient")
    if spacing is None or ipp is None or iop is None or "Rows" not in ds:
        missing = [k for k, v in (("PixelSpacing", spacing), ("ImagePositionPatient", ipp), ("ImageOrientationPatient", iop)) if v is None]
        raise QCInputError("err.missing_tags", file=name, tags=", ".join(missing) or "Rows")
    return SliceHeader(
        file=InputFile(filename=name, sha256=sha256_of(data), size=len(data), sop_instance_uid=str(ds.get("SOPInstanceUID", "")), data=data),
        data=data,
        series_uid=str(ds.get("SeriesInstanceUID", "")),
        series_number=_i(ds.get("SeriesNumber")),
        description=str(ds.get("SeriesDescription", "") or ""),
        image_type=tuple(str(s).upper() for s in (ds.get("ImageType") or ())),
        rows=int(ds.Rows),
        cols=int(ds.Columns),
        pixel_spacing_mm=(float(spacing[0]), float(spacing[1])),
        slice_thickness_mm=_f(ds.get("SliceThickness")),
        position_mm=np.array([float(v) for v in ipp]),
        orientation=np.array([float(v) for v in iop]),
        temporal_position=_i(ds.get("TemporalPositionIdentifier")),
        n_temporal_positions=_i(ds.get("NumberOfTemporalPositions")),
        instance_number=_i(ds.get("InstanceNumber")),
        echo_time_ms=_f(ds.get("EchoTime")),
        flip_angle_deg=_f(ds.get("FlipAngle")),
        imaging_frequency_mhz=_f(ds.get("ImagingFrequency")),
        slope=_f(ds.get("RescaleSlope"), 1.0) or 1.0,
        intercept=_f(ds.get("RescaleIntercept"), 0.0) or 0.0,
        rescale_type=str(ds.get("RescaleType", "") or ""),
        acquired_at=acquired,
        station_name=str(ds.get("StationName", "") or ""),
        device_serial=str(ds.get("DeviceSerialNumber", "") or ""),
        manufacturer=str(ds.get("Manufacturer", "") or ""),
        sequence=str(ds.get("ScanningSequence", "") or ""),
    )


def scan_headers(inputs: list[tuple[str, bytes]], lang: str = "fr") -> tuple[list[SeriesHeaders], list[str]]:
    """Group the MR images of an upload (files and zips) by series; (series, skipped-file sentences).

    Files that are not DICOM, not MR, or have no pixels are skipped with a reason; the same file
    twice is kept once (and said). Raises `QCInputError` when no MR image remains.
    """
    files = expand_inputs(inputs)
    skipped: list[str] = []
    seen: dict[str, str] = {}
    groups: dict[str, list[SliceHeader]] = {}
    for name, data in files:
        ds = _header(name, data)
        if ds is None:
            skipped.append(t("mrl.skip.not_dicom", lang, file=name))
            continue
        if str(ds.get("SOPClassUID", "")) not in MR_SOP_CLASSES and str(ds.get("Modality", "")).upper() != "MR":
            skipped.append(t("mrl.skip.not_mr", lang, file=name, modality=str(ds.get("Modality", "?"))))
            continue
        digest = sha256_of(data)
        if digest in seen:
            skipped.append(t("mrl.skip.twice", lang, file=name, other=seen[digest]))
            continue
        seen[digest] = name
        try:
            sh = slice_header(name, data, ds)
        except QCInputError as exc:
            skipped.append(exc.message(lang))
            continue
        groups.setdefault(sh.series_uid, []).append(sh)
    if not groups:
        raise QCInputError("mrl.err.no_mr", n=len(files))
    series = []
    for uid, slices in groups.items():
        slices.sort(key=lambda s: (s.temporal_position or 0, s.along_normal_mm, s.instance_number or 0))
        series.append(SeriesHeaders(uid, slices[0].series_number, slices[0].description, slices))
    series.sort(key=lambda s: (s.number if s.number is not None else 10**9, s.uid))
    return series, skipped


def series_test(series: SeriesHeaders) -> str | None:
    """Which MR-Linac test a series is for, from its headers (None: not one of them).

    - B0 map (ImageType contains "B0 MAP" or RescaleType Hz) → B0 homogeneity;
    - phase images (ImageType "PHASE MAP" / RescaleType mrad) over several temporal positions → B0 vs gantry;
    - spin echo with FlipAngle 60° or 120° → B1 (double angle);
    - a 3-D volume of ≥ 100 parallel slices → geometric fidelity.
    """
    s = series.slices
    if any(x.is_b0_map for x in s):
        return B0
    n_temporal = max((x.temporal_position or 0) for x in s)
    if any(x.is_phase for x in s) and (n_temporal > 1 or (s[0].n_temporal_positions or 0) > 1):
        return GANTRY
    flips = {round(x.flip_angle_deg or 0) for x in s}
    if flips & {60, 120} and ("SE" in s[0].sequence.upper() or re.search(r"\bSE\b|B1|spin", series.description, re.I)):
        return B1
    if len({round(x.along_normal_mm, 2) for x in s}) >= 100:
        return GEOMETRY
    return None


def route(inputs: list[tuple[str, bytes]], lang: str = "fr") -> tuple[dict[str, list[SeriesHeaders]], list[str]]:
    """An exported study split by test: {test key: [series]}, plus what was left out and why."""
    series, skipped = scan_headers(inputs, lang)
    routed: dict[str, list[SeriesHeaders]] = {}
    for s in series:
        key = series_test(s)
        if key is None:
            skipped.append(t("mrl.skip.series_unknown", lang, series=s.label(), n=len(s.slices)))
            continue
        routed.setdefault(key, []).append(s)
    return routed, skipped


def series_inputs(series: list[SeriesHeaders]) -> list[tuple[str, bytes]]:
    """The (name, bytes) files of some series, to hand them to an analyser."""
    return [(x.file.filename, x.data) for s in series for x in s.slices]


# ---------------------------------------------------------------- pixels and geometry


def slice_pixels(sh: SliceHeader, dtype=np.float32, rescale: bool = True) -> np.ndarray:
    """One slice's stored pixels, rescaled (slope·SV + intercept) to `dtype` (first frame only)."""
    try:
        ds = pydicom.dcmread(io.BytesIO(sh.data))
        arr = np.asarray(ds.pixel_array)
    except Exception:
        raise QCInputError("err.decode", file=sh.file.filename, syntax="?") from None
    if arr.ndim == 3:
        arr = arr[0]
    if arr.shape != (sh.rows, sh.cols):
        raise QCInputError("err.not_2d", file=sh.file.filename, shape="×".join(map(str, arr.shape)))
    if not rescale:
        return arr
    return (arr.astype(dtype) * dtype(sh.slope) + dtype(sh.intercept)).astype(dtype, copy=False)


def pixel_coordinates_mm(sh: SliceHeader) -> np.ndarray:
    """Patient coordinates (LPS, mm) of every pixel centre of a slice: array (rows, cols, 3)."""
    r = np.arange(sh.rows, dtype=float)[:, None, None]
    c = np.arange(sh.cols, dtype=float)[None, :, None]
    row_dir, col_dir = sh.orientation[:3], sh.orientation[3:]
    # ImageOrientationPatient: first triplet = direction of increasing column index (along a row).
    return sh.position_mm + c * sh.pixel_spacing_mm[1] * row_dir + r * sh.pixel_spacing_mm[0] * col_dir


def dsv_mask(sh: SliceHeader, dsv_mm: float, isocentre_mm=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Pixels of a slice inside the sphere of diameter `dsv_mm` about the isocentre."""
    p = pixel_coordinates_mm(sh) - np.asarray(isocentre_mm, float)
    return np.einsum("ijk,ijk->ij", p, p) <= (dsv_mm / 2.0) ** 2


def acquisition_of(slices: list[SliceHeader], user_date: dt.datetime | None) -> dt.datetime:
    """Earliest header acquisition date, else the user's; neither → QCInputError (never guessed)."""
    dates = [s.acquired_at for s in slices if s.acquired_at]
    if dates:
        return min(dates)
    if user_date is not None:
        return user_date
    raise QCInputError("mrl.err.no_date", file=slices[0].file.filename)


def identity_of(slices: list[SliceHeader]) -> dict:
    first = slices[0]
    return {"station_name": first.station_name, "device_serial": first.device_serial}


def imaging_frequency_of(slices: list[SliceHeader], options: dict) -> float:
    """f0 in MHz: the header's ImagingFrequency, else option `imaging_frequency_mhz`, else 63.88 (1.5 T)."""
    for s in slices:
        if s.imaging_frequency_mhz and s.imaging_frequency_mhz > 1:
            return float(s.imaging_frequency_mhz)
    return float(options.get("imaging_frequency_mhz", 63.88))


def phantom_mask(magnitude: np.ndarray, erode_px: int = 2, fraction: float = 0.3) -> np.ndarray:
    """Pixels inside the phantom: magnitude above `fraction` × its 99th percentile (the phantom signal
    is far above the noise and its shading stays within a factor 2, so this holds also when the
    phantom fills the whole field of view, where Otsu's threshold would split the phantom itself),
    holes filled, eroded by `erode_px` pixels (edge pixels carry partial volume and phase errors)."""
    from scipy import ndimage

    finite = magnitude[np.isfinite(magnitude)]
    if finite.size == 0:
        return np.zeros(magnitude.shape, bool)
    hi = float(np.percentile(finite, 99))
    if hi <= 0:
        return np.zeros(magnitude.shape, bool)
    m = ndimage.binary_fill_holes(np.nan_to_num(magnitude) > fraction * hi)
    if erode_px > 0:
        m = ndimage.binary_erosion(m, iterations=erode_px, border_value=1)
    return m


def smooth3(img: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """3×3 in-plane mean of `img` over valid pixels, and the pixels whose whole 3×3 neighbourhood is
    valid (where the mean is kept). Noise falls by 3, a smooth field is unchanged to second order."""
    from scipy import ndimage

    v = valid.astype(np.float64)
    s = ndimage.uniform_filter(np.where(valid, img, 0.0).astype(np.float64), 3, mode="constant")
    n = ndimage.uniform_filter(v, 3, mode="constant")
    full = ndimage.binary_erosion(valid, structure=np.ones((3, 3), bool))
    out = np.where(n > 0, s / np.maximum(n, 1e-12), np.nan)
    return out, full


def parse_dsvs(options: dict, default: tuple[float, ...]) -> tuple[float, ...]:
    vals = options.get("dsv_mm", default)
    if isinstance(vals, (int, float)):
        vals = (vals,)
    return tuple(float(v) for v in vals)
