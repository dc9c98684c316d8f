"""MR series reader: every MR image of an upload (files, folders' files, zips), grouped by series.

Owns: turning uploads into `MRSeries` of `MRSlice` (float32 pixels rescaled to the scanner's values,
geometry, sequence parameters, identity), splitting Enhanced (multi-frame) MR objects into frames with
their per-frame functional groups, splitting mixed uploads by SeriesInstanceUID, sorting each series along
its slice normal (then temporal position, then instance number), and listing, one sentence each, what was
set aside and why: non-DICOM, DICOM without an image, another modality, localisers (ImageType LOCALIZER,
3-plane scouts), the same file twice. hazen's users hit each of these (GSTT-CSC/hazen issues 210, 394,
488); here nothing is silently dropped.

Memory: pixels are float32. `load_mr_series(..., lazy=True)` reads headers only and decodes a slice's
pixels each time `slice.pixels` is read (not cached), so `MRSeries.volume()` of a 400-slice 512² series
holds one float32 volume plus the input bytes, never a float64 copy.

Rescaling: stored values × slope + intercept, where (slope, intercept) come from the Real World Value
Mapping (Philips writes it, DICOM PS3.3 C.7.6.16.2.11) when present, else RescaleSlope/RescaleIntercept
(per frame for Enhanced MR). Ratios (SNR, uniformity, ghosting) do not depend on the slope.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from qc.errors import QCInputError
from qc.i18n import t
from qc.readers.dicom_io import (
    ENHANCED_MR_IMAGE_STORAGE,
    acquisition_datetime,
    expand_inputs,
    sha256_of,
)
from qc.results import InputFile

LOCALISER_WORDS = ("localizer", "localiser", "survey", "scout", "3-plane", "3plane", "tri-pilot", "tripilot")


@dataclass
class MRSlice:
    """One MR image (a single-frame file, or one frame of an Enhanced MR object)."""

    pixels: np.ndarray = field(repr=False)  # float32, rescaled; decoded on access when lazy
    pixel_spacing_mm: tuple[float, float]  # (row spacing, column spacing)
    slice_thickness_mm: float | None
    position_mm: tuple[float, float, float] | None  # ImagePositionPatient
    orientation: tuple[float, ...] | None  # ImageOrientationPatient (6)
    slice_location_mm: float | None  # position along the slice normal
    series_uid: str
    series_number: int | None
    series_description: str
    instance_number: int | None
    image_type: tuple[str, ...]
    acquired_at: dt.datetime | None
    echo_time_ms: float | None
    repetition_time_ms: float | None
    flip_angle_deg: float | None
    pixel_bandwidth_hz: float | None
    number_of_averages: float | None
    imaging_frequency_mhz: float | None
    phase_encoding_direction: str | None  # "ROW" or "COL"
    temporal_position: int | None
    rescale_type: str | None
    manufacturer: str
    station_name: str
    device_serial: str
    model: str
    file: InputFile
    frame_index: int | None
    header: dict[str, str] = field(default_factory=dict)
    rescale_slope: float = 1.0  # applied to the stored values (Real World Value Mapping or Rescale Slope)
    rescale_intercept: float = 0.0  # idem; Philips writes large ones (e.g. -5053), see `signal`
    _loader: Callable[[], np.ndarray] | None = field(default=None, repr=False, compare=False)

    @property
    def shape(self) -> tuple[int, int]:
        rows, cols = self._shape
        return rows, cols

    @property
    def label(self) -> str:
        """Short name for tables: file name, and frame number for an Enhanced MR frame."""
        name = self.file.filename.rsplit("/", 1)[-1]
        return name if self.frame_index is None else f"{name} [{self.frame_index + 1}]"

    @property
    def signal(self) -> np.ndarray:
        """Pixels proportional to the MR signal (zero where there is none): `pixels` minus the rescale
        intercept. Ratios (SNR, uniformity, ghosting) need this scale; an intercept shifts it (a Philips
        flood image with intercept -5053 gives an SNR 4 times too low on `pixels`)."""
        p = self.pixels
        return p - np.float32(self.rescale_intercept) if self.rescale_intercept else p

    @property
    def normal(self) -> np.ndarray | None:
        if self.orientation is None:
            return None
        r, c = np.asarray(self.orientation[:3]), np.asarray(self.orientation[3:6])
        n = np.cross(r, c)
        norm = float(np.linalg.norm(n))
        return n / norm if norm > 0 else None


def _get_pixels(self: MRSlice) -> np.ndarray:
    data = self.__dict__.get("_pixels")
    if data is None and self._loader is not None:
        return self._loader()
    return data  # type: ignore[return-value]


def _set_pixels(self: MRSlice, value: np.ndarray | None) -> None:
    if value is not None:
        value = np.asarray(value, dtype=np.float32)
        self.__dict__["_shape"] = value.shape
    self.__dict__["_pixels"] = value


# A property set after the dataclass is built: __init__ assigns `self.pixels`, which goes through the setter.
MRSlice.pixels = property(_get_pixels, _set_pixels)  # type: ignore[assignment]


@dataclass
class MRSeries:
    """The images of one SeriesInstanceUID, sorted along the slice normal, then time, then instance."""

    uid: str
    number: int | None
    description: str
    slices: list[MRSlice]

    def volume(self) -> np.ndarray:
        """(n, rows, cols) float32; slices of another matrix size than the first are refused."""
        first = self.slices[0]
        rows, cols = first.shape
        out = np.empty((len(self.slices), rows, cols), dtype=np.float32)
        for i, s in enumerate(self.slices):
            if s.shape != (rows, cols):
                raise QCInputError("mrs.err.matrix_mismatch", file=s.label, shape=f"{s.shape[0]}×{s.shape[1]}",
                                   expected=f"{rows}×{cols}")
            out[i] = s.pixels
        return out

    @property
    def acquired_at(self) -> dt.datetime | None:
        return min((s.acquired_at for s in self.slices if s.acquired_at), default=None)

    @property
    def files(self) -> list[InputFile]:
        seen: dict[str, InputFile] = {}
        for s in self.slices:
            seen.setdefault(s.file.sha256, s.file)
        return list(seen.values())

    def label(self, lang: str = "fr") -> str:
        num = f"{self.number} " if self.number is not None else ""
        return t("mrs.series_label", lang, num=num, desc=self.description or "—", n=len(self.slices)).strip()


# ---------------------------------------------------------------- public entry point


def load_mr_series(
    inputs: list[tuple[str, bytes]], lang: str = "fr", lazy: bool = False, keep_localisers: bool = False
) -> tuple[list[MRSeries], list[str]]:
    """Every MR image in the inputs grouped by series, and one sentence per thing set aside.

    `inputs` are (name, bytes); zips are opened by `qc.readers.dicom_io.expand_inputs`. `lazy=True` reads
    headers only and decodes pixels on access. `keep_localisers=True` keeps localiser images (the ACR
    sagittal localiser is itself a measured image). Series come in order of series number, then
    acquisition time. Raises `QCInputError` when nothing analysable is left (its message lists why).
    """
    files = expand_inputs(inputs)
    set_aside: list[str] = []
    slices: list[MRSlice] = []
    seen: dict[str, str] = {}
    for name, data in files:
        digest = sha256_of(data)
        if digest in seen:
            set_aside.append(t("mrs.aside.duplicate", lang, file=name, other=seen[digest]))
            continue
        seen[digest] = name
        ds, why = _read_header(name, data, lang, headers_only=lazy)
        if ds is None:
            set_aside.append(why)
            continue
        why = _not_mr_image_reason(name, ds, lang)
        if why:
            set_aside.append(why)
            continue
        if not keep_localisers and _is_localiser(ds):
            set_aside.append(t("mrs.aside.localiser", lang, file=name, desc=str(ds.get("SeriesDescription", "") or "—")))
            continue
        file = InputFile(filename=name, sha256=digest, size=len(data),
                         sop_instance_uid=str(ds.get("SOPInstanceUID", "")), data=data)
        try:
            slices.extend(_slices_of(name, data, ds, file, lazy))
        except QCInputError as exc:
            set_aside.append(exc.message(lang))
    series = _group(slices, set_aside, lang, keep_localisers)
    if not series:
        detail = " ".join(set_aside[:5]) + (" …" if len(set_aside) > 5 else "")
        raise QCInputError("mrs.err.nothing", n=len(files), detail=detail)
    return series, set_aside


# ---------------------------------------------------------------- header reading


def _read_header(name: str, data: bytes, lang: str, headers_only: bool = True) -> tuple[pydicom.Dataset | None, str]:
    """The dataset (without its pixel data when `headers_only`: decoded later from the bytes), or None
    and why."""
    if len(data) == 0:
        return None, t("mrs.aside.empty", lang, file=name)
    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=headers_only)
    except InvalidDicomError:
        try:
            ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=headers_only, force=True)
        except Exception:
            return None, t("mrs.aside.not_dicom", lang, file=name)
        if "SOPClassUID" not in ds and "Modality" not in ds:
            return None, t("mrs.aside.not_dicom", lang, file=name)
    except Exception:
        return None, t("mrs.aside.truncated", lang, file=name)
    return ds, ""


def _has_pixel_data(data: bytes) -> bool:
    # (7FE0,0010) tag bytes, little endian; stop_before_pixels hides it, so look for it in the bytes.
    return b"\xe0\x7f\x10\x00" in data


def _not_mr_image_reason(name: str, ds: pydicom.Dataset, lang: str) -> str:
    modality = str(ds.get("Modality", "") or "").upper()
    if modality and modality != "MR":
        return t("mrs.aside.modality", lang, file=name, modality=modality)
    if "Rows" not in ds or "Columns" not in ds:
        return t("mrs.aside.no_image", lang, file=name, what=_sop_label(ds))
    return ""


def _sop_label(ds: pydicom.Dataset) -> str:
    uid = str(ds.get("SOPClassUID", ""))
    try:
        return pydicom.uid.UID(uid).name if uid else "?"
    except Exception:
        return uid


def _is_localiser(ds: pydicom.Dataset) -> bool:
    image_type = [str(v).upper() for v in (ds.get("ImageType") or [])]
    if "LOCALIZER" in image_type or "LOCALISER" in image_type:
        return True
    desc = str(ds.get("SeriesDescription", "") or "").lower()
    return any(w in desc for w in LOCALISER_WORDS)


# ---------------------------------------------------------------- slices


def _num(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _first(*values: Any) -> Any:
    for v in values:
        if v is not None and v != "":
            return v
    return None


def _seq_item(ds: pydicom.Dataset | None, keyword: str) -> pydicom.Dataset | None:
    if ds is None or keyword not in ds:
        return None
    seq = ds.get(keyword)
    return seq[0] if seq else None


def _rescale(ds: pydicom.Dataset, frame: pydicom.Dataset | None = None) -> tuple[float, float, str | None]:
    """(slope, intercept, rescale type): Real World Value Mapping first, then Rescale Slope/Intercept."""
    for src in (frame, ds):
        rwv = _seq_item(src, "RealWorldValueMappingSequence")
        if rwv is None and src is not None:
            pvt = _seq_item(src, "PixelValueTransformationSequence")
            rwv = _seq_item(pvt, "RealWorldValueMappingSequence") if pvt is not None else None
        if rwv is not None and _num(rwv.get("RealWorldValueSlope")) not in (None, 0.0):
            units = _seq_item(rwv, "MeasurementUnitsCodeSequence")
            kind = str(units.get("CodeMeaning", "")) if units is not None else ""
            return (float(rwv.RealWorldValueSlope), _num(rwv.get("RealWorldValueIntercept")) or 0.0,
                    kind or str(ds.get("RescaleType", "") or "") or None)
    for src in (_seq_item(frame, "PixelValueTransformationSequence"), ds):
        if src is not None and "RescaleSlope" in src:
            slope = _num(src.get("RescaleSlope")) or 1.0
            return slope, _num(src.get("RescaleIntercept")) or 0.0, str(src.get("RescaleType", "") or "") or None
    return 1.0, 0.0, None


def _phase_direction(ds: pydicom.Dataset, frame: pydicom.Dataset | None) -> str | None:
    for src in (frame, _seq_item(ds, "SharedFunctionalGroupsSequence")):
        fov = _seq_item(src, "MRFOVGeometrySequence")
        if fov is not None and fov.get("InPlanePhaseEncodingDirection"):
            return _norm_pe(fov.InPlanePhaseEncodingDirection)
    return _norm_pe(ds.get("InPlanePhaseEncodingDirection"))


def _norm_pe(value: Any) -> str | None:
    v = str(value or "").strip().upper()
    if v.startswith("ROW"):
        return "ROW"
    if v.startswith("COL"):
        return "COL"
    return None


def _location(position: tuple[float, float, float] | None, orientation: tuple[float, ...] | None,
              fallback: Any) -> float | None:
    if position is not None and orientation is not None and len(orientation) == 6:
        n = np.cross(np.asarray(orientation[:3]), np.asarray(orientation[3:]))
        norm = float(np.linalg.norm(n))
        if norm > 0:
            return float(np.dot(np.asarray(position), n / norm))
    return _num(fallback)


def _triple(value: Any) -> tuple[float, float, float] | None:
    try:
        vals = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return vals if len(vals) == 3 else None  # type: ignore[return-value]


def _six(value: Any) -> tuple[float, ...] | None:
    try:
        vals = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return vals if len(vals) == 6 else None


def _spacing(value: Any) -> tuple[float, float] | None:
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return (a, b) if a > 0 and b > 0 else None


def _header_text(ds: pydicom.Dataset, extra: dict[str, Any]) -> dict[str, str]:
    """A few fields as text for display (the UI escapes them)."""
    out: dict[str, str] = {}
    for kw in ("SeriesDescription", "ProtocolName", "SequenceName", "ScanningSequence", "MRAcquisitionType",
               "MagneticFieldStrength", "ReceiveCoilName", "Manufacturer", "ManufacturerModelName",
               "StationName", "SoftwareVersions"):
        v = ds.get(kw)
        if v not in (None, ""):
            out[kw] = str(v)[:120]
    for kw, v in extra.items():
        if v is not None:
            out[kw] = f"{v:g}" if isinstance(v, float) else str(v)
    return out


def _slices_of(name: str, data: bytes, ds: pydicom.Dataset, file: InputFile, lazy: bool) -> list[MRSlice]:
    if ("PixelData" not in ds) if not lazy else not _has_pixel_data(data):
        raise QCInputError("mrs.aside.no_pixels", file=name)
    n_frames = _int(ds.get("NumberOfFrames")) or 1
    enhanced = str(ds.get("SOPClassUID", "")) == ENHANCED_MR_IMAGE_STORAGE or "PerFrameFunctionalGroupsSequence" in ds
    # Eager reading parsed the whole file once already; lazy reading parses it again on each access.
    full: list[pydicom.Dataset | None] = [None if lazy else ds]

    def dataset() -> pydicom.Dataset:
        if full[0] is not None:
            return full[0]
        try:  # not kept: the bytes are already in memory, a parsed copy would double them
            return pydicom.dcmread(io.BytesIO(data), force=True)
        except Exception:
            raise QCInputError("err.truncated", file=name) from None

    def decode(index: int | None, slope: float, intercept: float) -> np.ndarray:
        src = dataset()
        try:
            from pydicom.pixels import pixel_array

            arr = pixel_array(src, index=index) if index is not None else src.pixel_array
        except Exception:
            ts = src.file_meta.get("TransferSyntaxUID", "") if getattr(src, "file_meta", None) else ""
            raise QCInputError("err.decode", file=name, syntax=getattr(ts, "name", str(ts))) from None
        arr = np.asarray(arr)
        if arr.ndim == 3 and index is None:
            arr = arr[0]
        if arr.ndim != 2:
            raise QCInputError("err.not_2d", file=name, shape="×".join(map(str, arr.shape)))
        out = arr.astype(np.float32)
        if slope != 1.0:
            out *= np.float32(slope)
        if intercept:
            out += np.float32(intercept)
        return out

    rows, cols = int(ds.Rows), int(ds.Columns)
    if min(rows, cols) < 16:
        raise QCInputError("err.not_2d", file=name, shape=f"{rows}×{cols}")
    acquired, _source = acquisition_datetime(ds)
    common = dict(
        series_uid=str(ds.get("SeriesInstanceUID", "") or ""),
        series_number=_int(ds.get("SeriesNumber")),
        series_description=str(ds.get("SeriesDescription", "") or ""),
        instance_number=_int(ds.get("InstanceNumber")),
        image_type=tuple(str(v) for v in (ds.get("ImageType") or [])),
        manufacturer=str(ds.get("Manufacturer", "") or ""),
        station_name=str(ds.get("StationName", "") or ""),
        device_serial=str(ds.get("DeviceSerialNumber", "") or ""),
        model=str(ds.get("ManufacturerModelName", "") or ""),
        file=file,
        imaging_frequency_mhz=_num(ds.get("ImagingFrequency")),
        pixel_bandwidth_hz=_num(ds.get("PixelBandwidth")),
        number_of_averages=_num(ds.get("NumberOfAverages")),
    )
    out: list[MRSlice] = []
    if not enhanced:
        position = _triple(ds.get("ImagePositionPatient"))
        orientation = _six(ds.get("ImageOrientationPatient"))
        spacing = _spacing(ds.get("PixelSpacing"))
        if spacing is None:
            raise QCInputError("err.missing_tags", file=name, tags="PixelSpacing")
        slope, intercept, rtype = _rescale(ds)
        params = dict(
            echo_time_ms=_num(ds.get("EchoTime")),
            repetition_time_ms=_num(ds.get("RepetitionTime")),
            flip_angle_deg=_num(ds.get("FlipAngle")),
        )
        frames = range(n_frames) if n_frames > 1 else [None]
        for index in frames:
            loader = (lambda i=index, s=slope, c=intercept: decode(i, s, c))
            sl = MRSlice(
                pixels=None,  # type: ignore[arg-type]
                pixel_spacing_mm=spacing,
                slice_thickness_mm=_num(ds.get("SliceThickness")),
                position_mm=position,
                orientation=orientation,
                slice_location_mm=_location(position, orientation, ds.get("SliceLocation")),
                acquired_at=acquired,
                phase_encoding_direction=_norm_pe(ds.get("InPlanePhaseEncodingDirection")),
                temporal_position=_int(ds.get("TemporalPositionIdentifier")),
                rescale_type=rtype,
                rescale_slope=slope,
                rescale_intercept=intercept,
                frame_index=index,
                header=_header_text(ds, {**params, "PixelBandwidth": common["pixel_bandwidth_hz"]}),
                **params,
                **common,
            )
            _attach(sl, loader, lazy, rows, cols)
            out.append(sl)
        return out
    shared = _seq_item(ds, "SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
    for index in range(n_frames):
        frame = per_frame[index] if index < len(per_frame) else None

        def group(keyword: str) -> pydicom.Dataset | None:
            return _seq_item(frame, keyword) or _seq_item(shared, keyword)

        measures, plane_pos, plane_ori = group("PixelMeasuresSequence"), group("PlanePositionSequence"), group(
            "PlaneOrientationSequence")
        timing, echo, content = group("MRTimingAndRelatedParametersSequence"), group("MREchoSequence"), group(
            "FrameContentSequence")
        averages = group("MRAveragesSequence")
        spacing = _spacing(measures.get("PixelSpacing") if measures is not None else None) or _spacing(
            ds.get("PixelSpacing"))
        if spacing is None:
            raise QCInputError("err.missing_tags", file=name, tags="PixelSpacing")
        position = _triple(plane_pos.get("ImagePositionPatient") if plane_pos is not None else None)
        orientation = _six(plane_ori.get("ImageOrientationPatient") if plane_ori is not None else None)
        transform_src = frame if frame is not None and _seq_item(frame, "PixelValueTransformationSequence") else shared
        slope, intercept, rtype = _rescale(ds, transform_src)
        frame_time = None
        if content is not None and content.get("FrameAcquisitionDateTime"):
            frame_time = _parse_dt(str(content.FrameAcquisitionDateTime))
        params = dict(
            echo_time_ms=_num(_first(echo.get("EffectiveEchoTime") if echo is not None else None, ds.get("EchoTime"))),
            repetition_time_ms=_num(_first(timing.get("RepetitionTime") if timing is not None else None,
                                           ds.get("RepetitionTime"))),
            flip_angle_deg=_num(_first(timing.get("FlipAngle") if timing is not None else None, ds.get("FlipAngle"))),
        )
        enh_common = dict(common)
        if averages is not None and _num(averages.get("NumberOfAverages")) is not None:
            enh_common["number_of_averages"] = _num(averages.get("NumberOfAverages"))
        temporal = _int(content.get("TemporalPositionIndex")) if content is not None else None
        sl = MRSlice(
            pixels=None,  # type: ignore[arg-type]
            pixel_spacing_mm=spacing,
            slice_thickness_mm=_num(_first(measures.get("SliceThickness") if measures is not None else None,
                                           ds.get("SliceThickness"))),
            position_mm=position,
            orientation=orientation,
            slice_location_mm=_location(position, orientation, None),
            acquired_at=frame_time or acquired,
            phase_encoding_direction=_phase_direction(ds, frame),
            temporal_position=temporal if temporal is not None else _int(ds.get("TemporalPositionIdentifier")),
            rescale_type=rtype,
            rescale_slope=slope,
            rescale_intercept=intercept,
            frame_index=index,
            header=_header_text(ds, {**params, "PixelBandwidth": common["pixel_bandwidth_hz"]}),
            **params,
            **enh_common,
        )
        _attach(sl, (lambda i=index, s=slope, c=intercept: decode(i, s, c)), lazy, rows, cols)
        out.append(sl)
    return out


def _parse_dt(raw: str) -> dt.datetime | None:
    ds = pydicom.Dataset()
    ds.AcquisitionDateTime = raw
    return acquisition_datetime(ds)[0]


def _attach(sl: MRSlice, loader: Callable[[], np.ndarray], lazy: bool, rows: int, cols: int) -> None:
    sl.__dict__["_shape"] = (rows, cols)
    if lazy:
        sl._loader = loader
    else:
        sl.pixels = loader()


# ---------------------------------------------------------------- grouping


def _group(slices: list[MRSlice], set_aside: list[str], lang: str, keep_localisers: bool) -> list[MRSeries]:
    by_uid: dict[str, list[MRSlice]] = {}
    for s in slices:
        by_uid.setdefault(s.series_uid or f"?{s.series_number}:{s.series_description}", []).append(s)
    series: list[MRSeries] = []
    for uid, group in by_uid.items():
        group.sort(key=_sort_key)
        first = group[0]
        ser = MRSeries(uid=uid, number=first.series_number, description=first.series_description, slices=group)
        if not keep_localisers and _orientations_differ(group):
            set_aside.append(t("mrs.aside.three_plane", lang, series=ser.label(lang)))
            continue
        series.append(ser)
    series.sort(key=lambda s: (s.number if s.number is not None else 1 << 30, s.acquired_at or dt.datetime.max, s.uid))
    return series


def _sort_key(s: MRSlice) -> tuple:
    inf = float("inf")
    return (
        s.slice_location_mm if s.slice_location_mm is not None else inf,
        s.temporal_position if s.temporal_position is not None else -1,
        s.instance_number if s.instance_number is not None else 1 << 30,
        s.frame_index if s.frame_index is not None else -1,
        s.file.filename,
    )


def _orientations_differ(group: list[MRSlice]) -> bool:
    """True for a series whose slice normals are not parallel (a 3-plane localiser)."""
    normals = [s.normal for s in group if s.normal is not None]
    if len(normals) < 2:
        return False
    ref = normals[0]
    return any(abs(float(np.dot(ref, n))) < 0.99 for n in normals[1:])
