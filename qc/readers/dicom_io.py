"""DICOM intake: read uploads (files, .zip, folders), validate them for a test, decode and describe them.

Owns: expanding inputs into named byte blobs, reading them with pydicom, refusing what cannot be
analysed with a clear `QCInputError` (not DICOM, truncated, no pixels, wrong modality or SOP class,
missing tags, undecodable compression), decoding compressed transfer syntaxes through pydicom's
non-GPL pixel-data plugins (pylibjpeg-openjpeg, pyjpegls, python-gdcm, pylibjpeg-rle), and extracting
what the analysers and storage need: acquisition date/time (not upload time), machine identity,
geometry (pixel spacing; RTImageSID and RadiationMachineSAD for RT Images) and image polarity
detected from the pixels (real EPID files disagree with their PhotometricInterpretation).

Hostile input (issue 18): uploads (UI) and paths (CLI) go through ONE reader, `expand_inputs` /
`read_paths`, which opens a zip once, inflates members chunk by chunk under per-file, per-upload,
member-count and nesting limits (declared sizes only ever refuse, never accept), and marks what it
expanded (`InputBlob`) so that a second pass does not open it again. Image sizes are checked against
the header before decoding, and a file cut anywhere says "truncated".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from qc.errors import QCInputError
from qc.i18n import t
from qc.results import InputFile

RT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.1"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4.1"

# Limits of one upload (UI) or one command line (CLI), checked while reading, never from declared sizes.
MAX_ZIP_MEMBERS = 2000  # files kept from the archives of one upload
MAX_ZIP_ENTRIES = 5000  # entries of one archive's directory (folders and system junk included)
MAX_FILE_BYTES = 64 * 1024**2  # one file, plain or inflated from an archive (a Unity RT Image is 2 MB)
MAX_TOTAL_BYTES = 256 * 1024**2  # every file of one upload, inflated (the memory one upload may hold)
MAX_ZIP_DEPTH = 1  # a zip inside a zip is opened; a zip inside that one is refused
MAX_DECODED_BYTES = 128 * 1024**2  # the pixel data of one image once decoded (rows × columns × frames × bits)
MAX_SESSION_DECODED_BYTES = 1024**3  # every decoded image of one session (raw + signal, float64)
_CHUNK_BYTES = 1024**2
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # bzip2/lzma inflate without an output bound
_CD_BYTES_PER_ENTRY = 46 + 1024  # fixed part of a central-directory record + a generous name and extras


@dataclass(frozen=True)
class DicomRequirements:
    """What a test accepts: modalities, SOP classes and tags its analyser cannot do without."""

    modalities: frozenset[str]
    sop_classes: frozenset[str] = frozenset()
    required_tags: tuple[str, ...] = ()


RT_IMAGE = DicomRequirements(
    modalities=frozenset({"RTIMAGE"}),
    sop_classes=frozenset({RT_IMAGE_STORAGE}),
    required_tags=(),
)


@dataclass
class DicomImage:
    """One decoded image with everything the analysers need, geometry in mm at the isocentre.

    `signal` is the pixel array turned so that more dose (or more MR signal) is higher, as float64;
    `inverted` says whether the raw values had to be flipped for that.
    `pixel_size_iso_mm` is (row spacing, column spacing): for RT Images the panel spacing scaled by
    SAD/SID (the image magnification), for other modalities PixelSpacing as is.
    """

    file: InputFile
    modality: str
    sop_class_uid: str
    raw: np.ndarray = field(repr=False)
    signal: np.ndarray = field(repr=False)
    inverted: bool
    pixel_size_iso_mm: tuple[float, float]
    acquired_at: dt.datetime | None
    acquired_at_source: str
    station_name: str = ""
    device_serial: str = ""
    manufacturer: str = ""
    model: str = ""
    machine_name: str = ""
    sid_mm: float | None = None
    sad_mm: float | None = None
    panel_pixel_spacing_mm: tuple[float, float] | None = None
    gantry_angle_deg: float | None = None
    photometric: str = ""
    label: str = ""
    warnings: list[str] = field(default_factory=list)
    dataset: pydicom.Dataset | None = field(default=None, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return self.signal.shape  # type: ignore[return-value]

    @property
    def magnification(self) -> float:
        if self.sid_mm and self.sad_mm:
            return self.sid_mm / self.sad_mm
        return 1.0

    @property
    def image_centre_px(self) -> tuple[float, float]:
        """Geometric centre (u = column, v = row) in pixel coordinates."""
        rows, cols = self.signal.shape
        return ((cols - 1) / 2.0, (rows - 1) / 2.0)


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- inputs


class InputBlob(tuple):
    """One input file as `(name, bytes)`, already taken out of its archive by this module.

    Expanding it again is a no-op, so a zip is opened once whoever reads the list next (the CLI reads
    paths, then the analyser calls `load_images`): the nesting and size limits are those of one pass,
    the same in the UI and the CLI.
    """

    __slots__ = ()


class _Budget:
    """What one upload may cost: files kept and bytes read (inflated), counted as they are read."""

    def __init__(self) -> None:
        self.files = 0
        self.bytes = 0

    def check_declared(self, name: str, size: int) -> None:
        """Refuse at once a size declared over the limit (a declared size is never trusted to accept)."""
        if size > MAX_FILE_BYTES:
            raise QCInputError("err.file_too_large", file=name, limit_mb=MAX_FILE_BYTES // 1024**2)

    def check_growing(self, name: str, read_bytes: int) -> None:
        """Called after every chunk: the file and the whole upload stay under their limits."""
        if read_bytes > MAX_FILE_BYTES:
            raise QCInputError("err.file_too_large", file=name, limit_mb=MAX_FILE_BYTES // 1024**2)
        if self.bytes + read_bytes > MAX_TOTAL_BYTES:
            raise QCInputError("err.upload_too_large", file=name, limit_mb=MAX_TOTAL_BYTES // 1024**2)

    def add_file(self, name: str, size: int, archive: str) -> None:
        self.check_growing(name, size)
        self.bytes += size
        self.files += 1
        if self.files > MAX_ZIP_MEMBERS:
            raise QCInputError("err.zip_too_large", file=archive, n=f"> {MAX_ZIP_MEMBERS}")


def expand_inputs(named: Iterable[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Turn uploads into (name, bytes) files: a .zip is opened (nested folders kept in the name), one
    level of zip in a zip too; members are inflated chunk by chunk under the limits above.

    Raises `QCInputError` for an empty upload, an empty or corrupt zip, or one too large or too deep.
    Files already expanded (`InputBlob`) pass through unchanged.
    """
    budget = _Budget()
    out: list[tuple[str, bytes]] = []
    for item in named:
        if isinstance(item, InputBlob):
            out.append(item)
            continue
        name, data = item
        _expand_blob(name, data, 0, budget, out)
    if not out:
        raise QCInputError("err.no_files")
    return out


def read_paths(paths: Iterable[str | Path]) -> list[tuple[str, bytes]]:
    """Read files, folders (recursively, hidden files skipped) and zips given on the command line,
    through the same reader and limits as uploads; a zip is read from disk, never loaded whole."""
    budget = _Budget()
    out: list[tuple[str, bytes]] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts):
                    _read_path(f, budget, out)
        elif p.is_file():
            _read_path(p, budget, out)
        else:
            raise QCInputError("err.no_such_file", file=str(p))
    if not out:
        raise QCInputError("err.no_files")
    return out


def _read_path(path: Path, budget: _Budget, out: list) -> None:
    name = str(path)
    with open(path, "rb") as fh:
        head = fh.read(4)
        fh.seek(0)
        if _is_zip(name, head):
            _zip_members(name, fh, 0, budget, out)
            return
        budget.check_declared(name, os.fstat(fh.fileno()).st_size)
        data = _read_chunked(fh, name, budget)
    budget.add_file(name, len(data), name)
    out.append(InputBlob((name, data)))


def _expand_blob(name: str, data: bytes, depth: int, budget: _Budget, out: list) -> None:
    """A file of the upload (depth 0) or of an archive (depth 1, 2): kept, or opened if it is a zip."""
    if _is_zip(name, data[:4]):
        if depth > MAX_ZIP_DEPTH:
            raise QCInputError("err.zip_nested", file=name, depth=MAX_ZIP_DEPTH)
        _zip_members(name, io.BytesIO(data), depth, budget, out)
        return
    budget.add_file(name, len(data), name.split("/", 1)[0])
    out.append(InputBlob((name, data)))


def _is_zip(name: str, head: bytes) -> bool:
    return name.lower().endswith(".zip") or head[:4] == b"PK\x03\x04"


def _check_zip_directory(name: str, fh: BinaryIO) -> None:
    """Read the entry count and directory size from the end record before `zipfile` parses the
    directory: a crafted archive with millions of entries is refused without building them."""
    fh.seek(0, io.SEEK_END)
    size = fh.tell()
    tail_len = min(size, 22 + 65535 + 20 + 56)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    fh.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        raise QCInputError("err.zip_corrupt", file=name)
    entries, cd_bytes = struct.unpack("<H", tail[at + 10 : at + 12])[0], struct.unpack("<I", tail[at + 12 : at + 16])[0]
    z64 = tail.rfind(b"PK\x06\x06", 0, at)
    if (entries == 0xFFFF or cd_bytes == 0xFFFFFFFF) and z64 >= 0 and z64 + 56 <= len(tail):
        entries, cd_bytes = struct.unpack("<QQ", tail[z64 + 32 : z64 + 48])
    if entries > MAX_ZIP_ENTRIES or cd_bytes > MAX_ZIP_ENTRIES * _CD_BYTES_PER_ENTRY:
        raise QCInputError("err.zip_too_large", file=name, n=entries)


def _zip_members(name: str, fh: BinaryIO, depth: int, budget: _Budget, out: list) -> None:
    _check_zip_directory(name, fh)
    n_before = len(out)
    try:
        zf = zipfile.ZipFile(fh)
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_ENTRIES:
            raise QCInputError("err.zip_too_large", file=name, n=len(infos))
        for info in infos:
            if info.is_dir() or _junk_member(info.filename):
                continue
            member = f"{name}/{info.filename}"
            if info.compress_type not in _ZIP_METHODS:
                raise QCInputError("err.zip_method", file=member)
            budget.check_declared(member, info.file_size)
            with zf.open(info) as src:
                data = _read_chunked(src, member, budget)
            _expand_blob(member, data, depth + 1, budget, out)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, RuntimeError, OSError, NotImplementedError, zlib.error):
        raise QCInputError("err.zip_corrupt", file=name) from None
    if len(out) == n_before:
        raise QCInputError("err.zip_empty", file=name)


def _read_chunked(src: BinaryIO, name: str, budget: _Budget) -> bytes:
    """Read (inflate) a file chunk by chunk, refusing it as soon as it passes a limit: memory never
    holds more than the limit, whatever size the archive declares."""
    buf = io.BytesIO()
    read = 0
    while chunk := src.read(_CHUNK_BYTES):
        read += len(chunk)
        budget.check_growing(name, read)
        buf.write(chunk)
    return buf.getvalue()


def _junk_member(path: str) -> bool:
    base = path.rsplit("/", 1)[-1]
    return path.startswith("__MACOSX/") or base.startswith(".") or base.lower() in {"thumbs.db", "desktop.ini"}


# ---------------------------------------------------------------- reading


def read_dataset(name: str, data: bytes) -> pydicom.Dataset:
    """Parse one file as DICOM, refusing non-DICOM and truncated files with a clear message.

    Files without the 128-byte preamble (seen in real exports) are accepted when, read with
    `force=True`, they hold a real image (SOP Class and PixelData); random bytes never do.
    """
    if len(data) == 0:
        raise QCInputError("err.empty_file", file=name)
    _check_deflated_size(name, data)
    try:
        ds = pydicom.dcmread(io.BytesIO(data))
    except InvalidDicomError:
        ds = _read_forced(name, data)
    except Exception:  # pydicom raises many types on a file cut short
        raise QCInputError("err.truncated", file=name) from None
    if _cut_short(ds, len(data)):
        raise QCInputError("err.truncated", file=name)
    return ds


def _check_deflated_size(name: str, data: bytes) -> None:
    """A "Deflated Explicit VR Little Endian" file is inflated whole by pydicom (no output bound):
    inflate it here first, chunk by chunk, and refuse it past the per-file limit (a 2 MB file
    could otherwise become gigabytes)."""
    if data[128:132] != b"DICM" or pydicom.uid.DeflatedExplicitVRLittleEndian.encode() not in data[:4096]:
        return
    if data[132:136] != b"\x02\x00\x00\x00" or len(data) < 144:
        return  # no group length: pydicom reads it (and refuses it) without inflating
    start = 144 + struct.unpack("<I", data[140:144])[0]
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    produced = 0
    pending = data[start:]
    try:
        while pending and not inflater.eof:
            produced += len(inflater.decompress(pending, _CHUNK_BYTES))
            pending = inflater.unconsumed_tail
            if produced > MAX_FILE_BYTES:
                raise QCInputError("err.file_too_large", file=name, limit_mb=MAX_FILE_BYTES // 1024**2)
    except zlib.error:
        raise QCInputError("err.truncated", file=name) from None


def _cut_short(ds: pydicom.Dataset, size: int) -> bool:
    """True when the file ends inside an element: pydicom stops silently at the end of the bytes,
    so a file cut at 200 B would read as "no modality" and one cut at 1000 B as "no PixelData".

    The last element read (of the data set, else of the file meta) must end exactly at the end of
    the file: a value shorter than its declared length, or bytes left over that pydicom could not
    read as an element header, mean the file was cut. Undefined lengths (sequences, encapsulated
    pixel data) are left to the decoder.
    """
    for part in (ds, getattr(ds, "file_meta", None)):
        if part is None or not len(part):
            continue
        last = part.get_item(list(part.keys())[-1])
        if not isinstance(last, pydicom.dataelem.RawDataElement) or last.value_tell is None:
            return False
        if last.length == 0xFFFFFFFF:
            return False
        value_len = len(last.value) if last.value is not None else 0
        return value_len < last.length or last.value_tell + last.length < size
    return size > 0


def check_pixel_size(name: str, ds: pydicom.Dataset) -> None:
    """Refuse, before decoding, an image whose declared size is absurd or whose pixel data is
    shorter than rows × columns × frames × samples × bits (a cut file): decoding must not allocate
    gigabytes for a few header bytes."""
    def num(tag: str, default: int) -> int:
        try:
            return int(ds.get(tag, default) or default)
        except (TypeError, ValueError):
            return default

    rows, cols, frames = num("Rows", 0), num("Columns", 0), max(1, num("NumberOfFrames", 1))
    samples, bits = max(1, num("SamplesPerPixel", 1)), max(1, num("BitsAllocated", 16))
    expected = (rows * cols * frames * samples * bits + 7) // 8
    if expected > MAX_DECODED_BYTES:
        raise QCInputError(
            "err.image_too_large", file=name, rows=rows, cols=cols, frames=frames,
            mb=expected // 1024**2, limit_mb=MAX_DECODED_BYTES // 1024**2,
        )
    ts = ds.file_meta.get("TransferSyntaxUID", "") if getattr(ds, "file_meta", None) else ""
    if "PixelData" in ds and not getattr(ts, "is_compressed", False):
        if len(ds.PixelData or b"") < expected:
            raise QCInputError("err.truncated", file=name)


def _read_forced(name: str, data: bytes) -> pydicom.Dataset:
    try:
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        ok = "SOPClassUID" in ds and ("PixelData" in ds or "Modality" in ds)
    except Exception:
        ok = False
    if not ok:
        raise QCInputError("err.not_dicom", file=name)
    if not getattr(ds, "file_meta", None) or "TransferSyntaxUID" not in ds.file_meta:
        ds.file_meta = getattr(ds, "file_meta", None) or pydicom.dataset.FileMetaDataset()
        # Files without meta are Implicit VR Little Endian by the DICOM default.
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    return ds


def decode_pixels(name: str, ds: pydicom.Dataset) -> np.ndarray:
    """The pixel array as float64 (first frame of a multi-frame), through pydicom's plugins."""
    if "PixelData" not in ds:
        # An image header (rows, columns) without its pixels is a file cut before them.
        raise QCInputError("err.truncated" if "Rows" in ds or "Columns" in ds else "err.no_pixels", file=name)
    check_pixel_size(name, ds)
    ts = ds.file_meta.get("TransferSyntaxUID", "")
    try:
        arr = ds.pixel_array
    except Exception as exc:  # decoding problems have many exception types
        msg = str(exc).lower()
        if any(w in msg for w in ("expected", "shorter", "truncat", "length", "buffer", "end of")) and not getattr(
            ts, "is_compressed", False
        ):
            raise QCInputError("err.truncated", file=name) from None
        raise QCInputError("err.decode", file=name, syntax=getattr(ts, "name", str(ts))) from None
    arr = np.asarray(arr)
    if arr.ndim == 3 and int(ds.get("NumberOfFrames", 1) or 1) > 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise QCInputError("err.not_2d", file=name, shape="×".join(map(str, arr.shape)))
    if min(arr.shape) < 16:
        raise QCInputError("err.not_2d", file=name, shape="×".join(map(str, arr.shape)))
    return arr.astype(np.float64)


def check_requirements(name: str, ds: pydicom.Dataset, req: DicomRequirements, test_label: str) -> None:
    modality = str(ds.get("Modality", "")).upper()
    if not modality and "PixelData" not in ds:
        # Neither a modality nor pixels: a file cut inside its header (seen as "modality ?" before).
        raise QCInputError("err.truncated", file=name)
    if req.modalities and modality not in req.modalities:
        raise QCInputError(
            "err.wrong_modality",
            file=name,
            modality=modality or "?",
            expected="/".join(sorted(req.modalities)),
            test=test_label,
        )
    sop = str(ds.get("SOPClassUID", ""))
    if req.sop_classes and sop not in req.sop_classes:
        raise QCInputError("err.wrong_sop", file=name, sop=_sop_name(sop), test=test_label)
    missing = [t for t in req.required_tags if t not in ds]
    if missing:
        raise QCInputError("err.missing_tags", file=name, tags=", ".join(missing))


def _sop_name(uid: str) -> str:
    try:
        return f"{pydicom.uid.UID(uid).name} ({uid})"
    except Exception:
        return uid or "?"


# ---------------------------------------------------------------- description


# The acquisition date, in order of preference (product rule): when the image was acquired, else when
# its pixel content was created, else when the instance was created. Series and study dates are not
# used: they say when a series or visit began, not when this image was taken.
DATE_TAGS: tuple[tuple[str, str], ...] = (
    ("AcquisitionDate", "AcquisitionTime"),
    ("ContentDate", "ContentTime"),
    ("InstanceCreationDate", "InstanceCreationTime"),
)


# A header date before this, or later than now (+ a day of clock and time-zone slack), is no date: consoles
# write placeholders (GE: 0001-01-01) and a wrong clock gives future dates. One rule for every face (pages, CLI,
# receiver, MR series, MV): such a date is treated as missing, the user is asked for the date, and a warning
# names the header's rejected date.
EARLIEST_PLAUSIBLE_DATE = dt.datetime(1990, 1, 1)
FUTURE_SLACK = dt.timedelta(days=1)


def is_plausible_date(when: dt.datetime, now: dt.datetime | None = None) -> bool:
    """True for a date an image can have been acquired on: from 1990-01-01 to now (+ one day)."""
    return EARLIEST_PLAUSIBLE_DATE <= when <= (now or dt.datetime.now()) + FUTURE_SLACK


def iso_day(when: dt.datetime) -> str:
    """YYYY-MM-DD with a four-digit year (strftime writes year 1 as "1" on Linux)."""
    return f"{when.year:04d}-{when.month:02d}-{when.day:02d}"


def header_datetime(ds: pydicom.Dataset) -> tuple[dt.datetime | None, str, dt.datetime | None]:
    """(date, tag that gave it, first implausible date met): the header's acquisition date/time by the order of
    `DATE_TAGS` (AcquisitionDateTime first), implausible dates (`is_plausible_date`) skipped as if absent."""
    candidates = []
    if ds.get("AcquisitionDateTime"):
        raw = str(ds.AcquisitionDateTime)
        candidates.append(("AcquisitionDateTime", _parse_dt(raw[:8], raw[8:])))
    for date_tag, time_tag in DATE_TAGS:
        if ds.get(date_tag):
            candidates.append((date_tag, _parse_dt(str(ds.get(date_tag)), str(ds.get(time_tag, "") or ""))))
    rejected = None
    for tag, parsed in candidates:
        if parsed is None:
            continue
        if is_plausible_date(parsed):
            return parsed, tag, rejected
        rejected = rejected or parsed
    return None, "", rejected


def acquisition_datetime(ds: pydicom.Dataset) -> tuple[dt.datetime | None, str]:
    """Acquisition date/time from the header and the tag that gave it (see `DATE_TAGS`); (None, "")
    when the header has none, or only implausible ones (`header_datetime`): the user then gives it
    (`AnalysisContext.acquired_at`)."""
    when, source, _rejected = header_datetime(ds)
    return when, source


def _header_only(data: bytes) -> pydicom.Dataset | None:
    """The header of a DICOM file without its pixels; None for what is not a DICOM image (same rule as
    `read_dataset`: files without preamble must still carry a SOP Class)."""
    try:
        return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    except InvalidDicomError:
        try:
            ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
        except Exception:
            return None
        return ds if "SOPClassUID" in ds else None
    except Exception:
        return None


def header_date(named: Iterable[tuple[str, bytes]]) -> tuple[dt.datetime | None, str, list[str], list[tuple[str, dt.datetime]]]:
    """The session's acquisition date read from the headers only (no pixel decoding): the earliest
    dated file, the tag it came from, the files without any (plausible) date, and the (file, date) of
    each implausible header date rejected. Unreadable files are left to the analyser, which refuses
    them with its own sentence."""
    dates: list[tuple[dt.datetime, str]] = []
    undated: list[str] = []
    rejected: list[tuple[str, dt.datetime]] = []
    for name, data in expand_inputs(named):
        ds = _header_only(data)
        if ds is None:
            continue
        when, source, bad = header_datetime(ds)
        if bad is not None:
            rejected.append((name, bad))
        if when is None:
            undated.append(name)
        else:
            dates.append((when, source))
    if not dates:
        return None, "", undated, rejected
    when, source = min(dates)
    return when, source, undated, rejected


def _parse_dt(date: str, time: str) -> dt.datetime | None:
    date = date.strip()
    time = time.strip().split("+")[0].split("-")[0]
    try:
        day = dt.datetime.strptime(date[:8], "%Y%m%d")
    except ValueError:
        return None
    digits = time.split(".")[0]
    h = int(digits[0:2]) if len(digits) >= 2 and digits[0:2].isdigit() else 0
    m = int(digits[2:4]) if len(digits) >= 4 and digits[2:4].isdigit() else 0
    s = int(digits[4:6]) if len(digits) >= 6 and digits[4:6].isdigit() else 0
    try:
        return day.replace(hour=h, minute=m, second=min(s, 59))
    except ValueError:
        return day


def detect_inverted(raw: np.ndarray) -> bool:
    """True when the background is bright (dose gives LOWER raw values), judged from the pixels.

    The background is what the image border shows: its median is compared with the image's low
    and high percentiles. PhotometricInterpretation is not trusted (see data/MANIFEST.md).
    """
    rows, cols = raw.shape
    b = max(2, int(0.03 * min(rows, cols)))
    border = np.concatenate([raw[:b].ravel(), raw[-b:].ravel(), raw[:, :b].ravel(), raw[:, -b:].ravel()])
    # Every 4th pixel in each direction: the percentiles of 65 000 samples are as good as of 1 M.
    lo, hi = np.percentile(raw[::4, ::4], [1, 99])
    if hi <= lo:
        return False
    return bool(np.median(border) - lo > hi - np.median(border))


def signal_of(raw: np.ndarray, inverted: bool) -> np.ndarray:
    """Pixel values turned so that dose is high: max − p when inverted."""
    return (raw.max() - raw) if inverted else raw - raw.min()


def _float_pair(value) -> tuple[float, float] | None:
    try:
        a, b = (float(v) for v in value)
        return (a, b) if a > 0 and b > 0 else None
    except Exception:
        return None


def _float(value) -> float | None:
    try:
        v = float(value)
        return v if np.isfinite(v) else None
    except Exception:
        return None


def describe(name: str, data: bytes, ds: pydicom.Dataset, raw: np.ndarray, lang: str = "fr") -> DicomImage:
    """Geometry, identity and polarity of a decoded image."""
    warnings: list[str] = []
    modality = str(ds.get("Modality", "")).upper()
    panel = _float_pair(ds.get("ImagePlanePixelSpacing")) if "ImagePlanePixelSpacing" in ds else None
    spacing = _float_pair(ds.get("PixelSpacing")) if "PixelSpacing" in ds else None
    sid = _float(ds.get("RTImageSID")) if "RTImageSID" in ds else None
    sad = _float(ds.get("RadiationMachineSAD")) if "RadiationMachineSAD" in ds else None
    if modality == "RTIMAGE":
        base = panel or spacing
        if base is None:
            raise QCInputError("err.missing_tags", file=name, tags="ImagePlanePixelSpacing")
        if sid and sad:
            iso = (base[0] * sad / sid, base[1] * sad / sid)
        else:
            iso = base
            warnings.append(t("warn.no_sid_sad", lang, file=name))
    else:
        if spacing is None and panel is None:
            raise QCInputError("err.missing_tags", file=name, tags="PixelSpacing")
        iso = spacing or panel  # type: ignore[assignment]
    acquired, source = acquisition_datetime(ds)
    if acquired is None:
        warnings.append(t("warn.no_date", lang, file=name))
    inverted = detect_inverted(raw)
    photometric = str(ds.get("PhotometricInterpretation", ""))
    return DicomImage(
        file=InputFile(
            filename=name, sha256=sha256_of(data), size=len(data), sop_instance_uid=str(ds.get("SOPInstanceUID", "")), data=data
        ),
        modality=modality,
        sop_class_uid=str(ds.get("SOPClassUID", "")),
        raw=raw,
        signal=signal_of(raw, inverted),
        inverted=inverted,
        pixel_size_iso_mm=(float(iso[0]), float(iso[1])),
        acquired_at=acquired,
        acquired_at_source=source,
        station_name=str(ds.get("StationName", "") or ""),
        device_serial=str(ds.get("DeviceSerialNumber", "") or ""),
        manufacturer=str(ds.get("Manufacturer", "") or ""),
        model=str(ds.get("ManufacturerModelName", "") or ""),
        machine_name=str(ds.get("RadiationMachineName", "") or ""),
        sid_mm=sid,
        sad_mm=sad,
        panel_pixel_spacing_mm=panel,
        gantry_angle_deg=_float(ds.get("GantryAngle")) if "GantryAngle" in ds else None,
        photometric=photometric,
        label=str(ds.get("RTImageLabel", "") or ds.get("SeriesDescription", "") or ""),
        warnings=warnings,
        dataset=ds,
    )


def load_image(name: str, data: bytes, req: DicomRequirements, test_label: str, lang: str = "fr") -> DicomImage:
    """Read, validate, decode and describe one file for a test. Raises `QCInputError` on bad input."""
    ds = read_dataset(name, data)
    check_requirements(name, ds, req, test_label)
    raw = decode_pixels(name, ds)
    return describe(name, data, ds, raw, lang)


def load_images(
    named: Iterable[tuple[str, bytes]], req: DicomRequirements, test_label: str, lang: str = "fr"
) -> list[DicomImage]:
    """Load every file of one session, in acquisition order; the same file twice is refused."""
    files = expand_inputs(named)
    images: list[DicomImage] = []
    decoded = 0
    for n, d in files:
        im = load_image(n, d, req, test_label, lang)
        # Decoding multiplies memory (2 MB of 16-bit pixels → 16 MB of float64 raw + signal), and
        # highly compressible images pass the upload limit: the session's decoded total is capped too.
        decoded += im.raw.nbytes + im.signal.nbytes
        if decoded > MAX_SESSION_DECODED_BYTES:
            raise QCInputError("err.session_too_large", n=len(images) + 1, limit_mb=MAX_SESSION_DECODED_BYTES // 1024**2)
        images.append(im)
    seen: dict[str, str] = {}
    for im in images:
        key = im.file.sha256
        if key in seen:
            raise QCInputError("err.same_file_twice", file=im.file.filename, other=seen[key])
        seen[key] = im.file.filename
    images.sort(key=lambda im: (im.acquired_at or dt.datetime.max, im.file.filename))
    return images


def session_identity(images: list[DicomImage]) -> dict:
    """What an AnalysisResult takes from a session's images: the earliest acquisition date, the
    machine identity of the first image, and every file (keyword arguments of AnalysisResult).
    Without any dated image, acquired_at is None: the pipeline takes the user's date or refuses."""
    first = images[0]
    dated = [(im.acquired_at, im.acquired_at_source) for im in images if im.acquired_at]
    earliest = min(dated) if dated else (None, "")
    return {
        "acquired_at": earliest[0],
        "acquired_at_source": earliest[1],
        "station_name": first.station_name,
        "device_serial": first.device_serial,
        "files": [im.file for im in images],
    }
