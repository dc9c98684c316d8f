"""MR-Linac MRI QA intake: group an MR export into series, route each series to its test, stream pixels.

Owns what the four MR-Linac MRI QA analysers (`qc.mr.b0`, `qc.mr.b0_gantry`, `qc.mr.b1`,
`qc.mr.geometry_3d`) share, on top of the MR series reader `qc.readers.mr_series.load_mr_series`
(read lazily: headers only, pixels decoded when asked; it splits Enhanced MR frames, applies the
Real World Value Mapping or RescaleSlope/Intercept, and lists localisers and non-images with a reason):
- `scan_headers`: the series with, per slice, the geometry as arrays (ImagePositionPatient,
  ImageOrientationPatient, PixelSpacing), ImageType, temporal position, echo time, flip angle, f0;
- `series_test`: which test a series belongs to, from its headers alone (an uploaded study is routed);
- `slice_pixels`: one slice decoded and rescaled (float32), so that a caller can stream a volume;
- geometry helpers: patient coordinates (mm) of every pixel of a slice, the DSV sphere mask;
- `acquisition_of`: the acquisition date from the header, else the user's (never the upload time).

The 3-D geometry volume (400 × 512², ≈ 200 MB of DICOM) is not built with `MRSeries.volume()` (float32,
≈ 420 MB): `qc.mr.geometry_3d.read_volume` streams the stored values slice by slice into one uint16
array. Files that are not MR images are listed, never silently dropped.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import numpy as np

from qc.errors import QCInputError
from qc.i18n import t
from qc.results import InputFile

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
    frame_index: int | None = None
    source: object = field(default=None, repr=False)  # the reader's MRSlice (lazy pixels)

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


def _i(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _from_reader(sl) -> SliceHeader | None:
    """The analysers' view of one `qc.readers.mr_series.MRSlice` (None without geometry)."""
    if sl.position_mm is None or sl.orientation is None:
        return None
    rows, cols = sl.shape
    return SliceHeader(
        file=sl.file,
        data=sl.file.data,
        series_uid=sl.series_uid,
        series_number=sl.series_number,
        description=sl.series_description,
        image_type=tuple(str(v).upper() for v in sl.image_type),
        rows=rows,
        cols=cols,
        pixel_spacing_mm=tuple(float(v) for v in sl.pixel_spacing_mm),
        slice_thickness_mm=sl.slice_thickness_mm,
        position_mm=np.array(sl.position_mm, float),
        orientation=np.array(sl.orientation, float),
        temporal_position=sl.temporal_position,
        n_temporal_positions=_i(sl.header.get("NumberOfTemporalPositions")),
        instance_number=sl.instance_number,
        echo_time_ms=sl.echo_time_ms,
        flip_angle_deg=sl.flip_angle_deg,
        imaging_frequency_mhz=sl.imaging_frequency_mhz,
        slope=1.0,
        intercept=0.0,
        rescale_type=str(sl.rescale_type or ""),
        acquired_at=sl.acquired_at,
        station_name=sl.station_name,
        device_serial=sl.device_serial,
        manufacturer=sl.manufacturer,
        sequence=sl.header.get("ScanningSequence", ""),
        frame_index=sl.frame_index,
        source=sl,
    )


def scan_headers(inputs: list[tuple[str, bytes]], lang: str = "fr") -> tuple[list[SeriesHeaders], list[str]]:
    """The MR series of an upload (files and zips), headers only; (series, set-aside sentences).

    Reads with `load_mr_series(lazy=True)`; an image without ImagePositionPatient or
    ImageOrientationPatient is set aside with a sentence (nothing here works without geometry).
    Raises `QCInputError` when no MR image remains.
    """
    from qc.readers.mr_series import load_mr_series

    mr, skipped = load_mr_series(inputs, lang, lazy=True)
    series: list[SeriesHeaders] = []
    for ser in mr:
        slices = []
        for sl in ser.slices:
            sh = _from_reader(sl)
            if sh is None:
                skipped.append(t("err.missing_tags", lang, file=sl.label, tags="ImagePositionPatient, ImageOrientationPatient"))
                continue
            slices.append(sh)
        if not slices:
            continue
        slices.sort(key=lambda x: (x.temporal_position or 0, x.along_normal_mm, x.instance_number or 0, x.frame_index or 0))
        series.append(SeriesHeaders(ser.uid, ser.number, ser.description, slices))
    if not series:
        raise QCInputError("mrl.err.no_mr", n=len(inputs))
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


def series_of_test(inputs: list[tuple[str, bytes]], key: str, word: str, lang: str = "fr") -> tuple[list[SeriesHeaders], list[str]]:
    """The series of an upload that test `key` reads (recognised by `series_test`), and one sentence for every
    file and every other series it sets aside (`word` names the test in them: "b0", "gantry", "b1", "geometry")."""
    series, skipped = scan_headers(inputs, lang)
    chosen = [s for s in series if series_test(s) == key]
    others = [t("mrl.skip.series_other", lang, series=s.label(), test=t(f"mrl.test.{word}", lang)) for s in series if s not in chosen]
    return chosen, list(skipped) + others


def series_inputs(series: list[SeriesHeaders]) -> list[tuple[str, bytes]]:
    """The (name, bytes) files of some series, to hand them to an analyser."""
    return [(x.file.filename, x.data) for s in series for x in s.slices]


# ---------------------------------------------------------------- pixels and geometry


def slice_pixels(sh: SliceHeader, dtype=np.float32) -> np.ndarray:
    """One slice's pixels, rescaled by the reader (Real World Value Mapping or RescaleSlope/Intercept)."""
    arr = sh.source.pixels
    if arr.shape != (sh.rows, sh.cols):
        raise QCInputError("err.not_2d", file=sh.file.filename, shape="×".join(map(str, arr.shape)))
    return arr.astype(dtype, copy=False)


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
