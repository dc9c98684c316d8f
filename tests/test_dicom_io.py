"""DICOM intake: validation messages, zips, compressed syntaxes, geometry, dates, polarity."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import numpy as np
import pydicom
import pytest

from conftest import blank_rt_image, shared_file
from qc.readers.dicom_io import RT_IMAGE, describe, detect_inverted, expand_inputs, load_images, read_dataset, read_paths
from qc.errors import QCInputError
from qc.synthetic import UNITY_PIXEL_ISO_MM, rt_image_bytes, unity_raw_from_signal


def square_field(inverted: bool = True) -> np.ndarray:
    sig = np.zeros((1024, 1024))
    sig[400:700, 300:700] = 1.0
    return unity_raw_from_signal(sig, inverted=inverted)


def load_one(data: bytes, name: str = "x.dcm"):
    return load_images([(name, data)], RT_IMAGE, "MVIC-Champ")[0]


def error_key(fn) -> str:
    with pytest.raises(QCInputError) as info:
        fn()
    return info.value.key


def test_unity_geometry_is_scaled_to_isocentre():
    im = load_one(rt_image_bytes(square_field(), acquired_at=dt.datetime(2026, 10, 3, 9, 15, 2)))
    assert im.pixel_size_iso_mm == pytest.approx((UNITY_PIXEL_ISO_MM, UNITY_PIXEL_ISO_MM))
    assert im.pixel_size_iso_mm[0] == pytest.approx(0.4 * 1435 / 2657.8, abs=1e-9)
    assert im.sid_mm == pytest.approx(2657.8) and im.sad_mm == pytest.approx(1435.0)
    assert im.acquired_at == dt.datetime(2026, 10, 3, 9, 15, 2)
    assert im.acquired_at_source == "AcquisitionDate"
    assert im.station_name == "UNITY-DEMO" and im.device_serial == "DEMO-0001"
    assert im.file.sop_instance_uid and len(im.file.sha256) == 64


def test_polarity_detected_from_pixels_not_header():
    inv = load_one(rt_image_bytes(square_field(True), acquired_at=dt.datetime(2026, 1, 1)))
    norm = load_one(rt_image_bytes(square_field(False), acquired_at=dt.datetime(2026, 1, 1)))
    assert inv.photometric == norm.photometric == "MONOCHROME2"
    assert inv.inverted and not norm.inverted
    for im in (inv, norm):  # dose is high in `signal` either way
        assert im.signal[550, 500] > im.signal[50, 50] + 30000


@pytest.mark.parametrize(
    "path, inverted",
    [
        (("pylinac", "open_field", "flatsym_demo.dcm"), False),
        (("pylinac", "open_field", "6x auto bulb 2.dcm"), False),
        (("pylinac", "picket_fence", "PF, Elekta, pickets near edges.dcm"), True),
    ],
)
def test_polarity_of_real_files_matches_manifest(path, inverted):
    data = shared_file(*path).read_bytes()
    im = load_one(data, path[-1])
    assert im.inverted is inverted


def test_not_dicom_is_refused_with_the_file_name():
    with pytest.raises(QCInputError) as info:
        load_one(b"date,value\n2026-01-01,3\n", "notes.csv")
    assert info.value.key == "err.not_dicom"
    assert "notes.csv" in info.value.message("fr") and "DICOM" in info.value.message("en")


def test_empty_file_and_truncated_file():
    assert error_key(lambda: load_one(b"", "empty.dcm")) == "err.empty_file"
    data = rt_image_bytes(square_field(), acquired_at=dt.datetime(2026, 1, 1))
    assert error_key(lambda: load_one(data[: len(data) // 2], "cut.dcm")) == "err.truncated"
    assert error_key(lambda: load_one(data[:2000], "cut2.dcm")) in ("err.truncated", "err.no_pixels")


def test_mr_image_given_to_an_mv_test():
    data = shared_file("hazen", "uniformity", "axial_oil.IMA").read_bytes()
    with pytest.raises(QCInputError) as info:
        load_one(data, "axial_oil.IMA")
    assert info.value.key == "err.wrong_modality"
    assert "MR" in info.value.message("fr") and "RTIMAGE" in info.value.message("fr")


def test_zip_of_files_and_empty_or_corrupt_zip():
    a = rt_image_bytes(square_field(), acquired_at=dt.datetime(2026, 1, 1, 8))
    b = rt_image_bytes(square_field(), acquired_at=dt.datetime(2026, 1, 1, 9))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("session/img2.dcm", b)
        zf.writestr("session/img1.dcm", a)
        zf.writestr("__MACOSX/session/._img1.dcm", b"junk")
    images = load_images([("session.zip", buf.getvalue())], RT_IMAGE, "t")
    assert [im.acquired_at.hour for im in images] == [8, 9]  # sorted by acquisition, not by name
    empty = io.BytesIO()
    zipfile.ZipFile(empty, "w").close()
    assert error_key(lambda: expand_inputs([("vide.zip", empty.getvalue())])) == "err.zip_empty"
    assert error_key(lambda: expand_inputs([("bad.zip", b"PK\x03\x04garbage")])) == "err.zip_corrupt"
    assert error_key(lambda: expand_inputs([])) == "err.no_files"


def test_same_file_twice_in_one_upload():
    a = rt_image_bytes(square_field(), acquired_at=dt.datetime(2026, 1, 1))
    assert error_key(lambda: load_images([("a.dcm", a), ("copy.dcm", a)], RT_IMAGE, "t")) == "err.same_file_twice"


def test_folder_reading(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "1.dcm").write_bytes(rt_image_bytes(square_field(), acquired_at=dt.datetime(2026, 1, 1)))
    (tmp_path / "s" / ".hidden").write_bytes(b"x")
    named = read_paths([tmp_path / "s"])
    assert [n.rsplit("/", 1)[-1] for n, _ in named] == ["1.dcm"]
    assert error_key(lambda: read_paths([tmp_path / "nope"])) == "err.no_such_file"


@pytest.mark.parametrize("syntax", ["RLELossless", "JPEGLSLossless", "JPEG2000Lossless"])
def test_compressed_transfer_syntaxes_decode(syntax):
    raw = square_field()
    ds = pydicom.dcmread(io.BytesIO(rt_image_bytes(raw, acquired_at=dt.datetime(2026, 1, 1))))
    ds.compress(getattr(pydicom.uid, syntax))
    buf = io.BytesIO()
    ds.save_as(buf)
    im = load_one(buf.getvalue(), f"{syntax}.dcm")
    assert np.array_equal(im.raw.astype(np.uint16), raw)


def test_file_without_preamble_and_meta_is_read():
    ds = pydicom.dcmread(io.BytesIO(rt_image_bytes(square_field(), acquired_at=dt.datetime(2026, 1, 1))))
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.preamble = None
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, implicit_vr=True, little_endian=True, enforce_file_format=False)
    data = buf.getvalue()
    assert data[128:132] != b"DICM"
    im = load_one(data, "nometa.dcm")
    assert im.inverted and im.pixel_size_iso_mm[0] == pytest.approx(UNITY_PIXEL_ISO_MM)


def test_missing_geometry_tag_is_named():
    ds = pydicom.dcmread(io.BytesIO(rt_image_bytes(square_field(), acquired_at=dt.datetime(2026, 1, 1))))
    del ds.ImagePlanePixelSpacing
    buf = io.BytesIO()
    ds.save_as(buf)
    with pytest.raises(QCInputError) as info:
        load_one(buf.getvalue(), "nogeo.dcm")
    assert info.value.key == "err.missing_tags" and "ImagePlanePixelSpacing" in info.value.message("en")


def test_rt_plan_without_pixels():
    from pydicom.data import get_testdata_file

    path = get_testdata_file("rtplan.dcm")
    ds = read_dataset("rtplan.dcm", open(path, "rb").read())
    assert "PixelData" not in ds
    with pytest.raises(QCInputError) as info:
        load_one(open(path, "rb").read(), "rtplan.dcm")
    assert info.value.key in ("err.wrong_modality", "err.no_pixels")


def test_detect_inverted_uniform_image_is_not_inverted():
    assert detect_inverted(np.full((64, 64), 1000.0)) is False
