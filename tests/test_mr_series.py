"""MR series reader (qc.readers.mr_series): grouping, sorting, frames, what is set aside and why."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from pydicom.uid import generate_uid

from qc.errors import QCInputError
from qc.readers.mr_series import load_mr_series
from qc.synthetic.mr import enhanced_mr_bytes, mr_image_bytes
from tests.conftest import shared_file


def _img(value: float = 100.0, shape=(64, 64)) -> np.ndarray:
    return np.full(shape, value)


def test_single_file_fields_and_rescale():
    data = mr_image_bytes(_img(250.0), rescale_slope=2.5, series_description="FLOOD", echo_time_ms=20.0,
                          phase_encoding_direction="COL", pixel_bandwidth_hz=300.0)
    series, aside = load_mr_series([("a.dcm", data)])
    assert aside == []
    (s,) = series
    sl = s.slices[0]
    assert sl.pixels.dtype == np.float32
    assert float(sl.pixels.mean()) == pytest.approx(250.0)
    assert sl.echo_time_ms == 20.0 and sl.phase_encoding_direction == "COL" and sl.pixel_bandwidth_hz == 300.0
    assert sl.pixel_spacing_mm == pytest.approx((0.9765625, 0.9765625))
    assert sl.acquired_at is not None and sl.series_description == "FLOOD"
    assert s.volume().shape == (1, 64, 64)


def test_real_world_value_mapping_wins_over_rescale():
    data = mr_image_bytes(_img(100.0), rescale_slope=1.0, real_world_slope=3.0)
    (s,), _ = load_mr_series([("a.dcm", data)])
    assert float(s.slices[0].pixels.mean()) == pytest.approx(300.0)


def test_mixed_series_split_and_sorted_along_normal():
    uid_a, uid_b = generate_uid(), generate_uid()
    files = []
    for k, loc in enumerate([10.0, -5.0, 0.0]):
        pos = [-31.5, -31.5, loc]
        files.append((f"a{k}.dcm", mr_image_bytes(_img(loc + 50), series_uid=uid_a, series_number=2,
                                                 position_mm=pos, instance_number=k + 1)))
    files.append(("b.dcm", mr_image_bytes(_img(7.0), series_uid=uid_b, series_number=1)))
    series, aside = load_mr_series(files)
    assert [s.uid for s in series] == [uid_b, uid_a]
    locs = [sl.slice_location_mm for sl in series[1].slices]
    assert locs == sorted(locs) == [-5.0, 0.0, 10.0]
    assert series[1].volume()[:, 0, 0].tolist() == [45.0, 50.0, 60.0]


def test_enhanced_multiframe_split_into_frames_with_positions():
    frames = np.stack([_img(10.0 * (i + 1)) for i in range(4)])
    data = enhanced_mr_bytes(frames, [6.0, 0.0, 3.0, -3.0], temporal_positions=[1, 1, 1, 1],
                             phase_encoding_direction="COL", rescale_slope=0.5)
    (s,), aside = load_mr_series([("e.dcm", data)])
    assert len(s.slices) == 4
    assert [sl.slice_location_mm for sl in s.slices] == pytest.approx([-3.0, 0.0, 3.0, 6.0])
    assert [float(sl.pixels[0, 0]) for sl in s.slices] == pytest.approx([40.0, 20.0, 30.0, 10.0])
    assert {sl.frame_index for sl in s.slices} == {0, 1, 2, 3}
    assert s.slices[0].phase_encoding_direction == "COL"
    assert s.slices[0].echo_time_ms == 30.0


def test_lazy_reading_decodes_on_access_without_caching():
    data = mr_image_bytes(_img(42.0))
    (s,), _ = load_mr_series([("a.dcm", data)], lazy=True)
    sl = s.slices[0]
    assert sl.__dict__.get("_pixels") is None
    assert sl.shape == (64, 64)
    assert float(sl.pixels.mean()) == pytest.approx(42.0)
    assert sl.__dict__.get("_pixels") is None
    assert s.volume().dtype == np.float32


def test_localiser_non_dicom_non_image_other_modality_set_aside_with_reasons():
    good = mr_image_bytes(_img())
    loc = mr_image_bytes(_img(), image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"))
    survey = mr_image_bytes(_img(), series_description="SmartSurvey")
    ct = mr_image_bytes(_img(), modality="CT")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, d in [("g.dcm", good), ("loc.dcm", loc), ("sv.dcm", survey), ("ct.dcm", ct),
                     ("notes.txt", b"hello"), ("dup.dcm", good)]:
            zf.writestr(f"folder/{n}", d)
    series, aside = load_mr_series([("upload.zip", buf.getvalue())], lang="en")
    assert len(series) == 1 and len(series[0].slices) == 1
    text = " | ".join(aside)
    assert len(aside) == 5
    assert "loc.dcm: localiser" in text and "sv.dcm: localiser" in text
    assert "ct.dcm: CT image" in text and "notes.txt: not a DICOM" in text and "same file" in text


def test_three_plane_localiser_series_set_aside():
    uid = generate_uid()
    oris = [(1, 0, 0, 0, 1, 0), (0, 1, 0, 0, 0, -1), (1, 0, 0, 0, 0, -1)]
    files = [(f"p{i}.dcm", mr_image_bytes(_img(), series_uid=uid, orientation=o, series_description="Plan"))
             for i, o in enumerate(oris)]
    files.append(("g.dcm", mr_image_bytes(_img())))
    series, aside = load_mr_series(files, lang="en")
    assert len(series) == 1 and len(aside) == 1 and "3-plane" in aside[0]
    kept, aside2 = load_mr_series(files, keep_localisers=True)
    assert len(kept) == 2 and aside2 == []


def test_nothing_analysable_raises_one_sentence():
    with pytest.raises(QCInputError) as exc:
        load_mr_series([("x.txt", b"not dicom at all"), ("ct.dcm", mr_image_bytes(_img(), modality="CT"))], lang="en")
    msg = exc.value.message("fr")
    assert "Aucune image IRM" in msg and "x.txt" in msg


def test_real_hazen_snr_pair_and_acr_series():
    a = shared_file("hazen", "snr", "Siemens", "tra_250_2meas_1.IMA")
    b = shared_file("hazen", "snr", "Siemens", "tra_250_2meas_2.IMA")
    series, aside = load_mr_series([(a.name, a.read_bytes()), (b.name, b.read_bytes())])
    assert aside == [] and sum(len(s.slices) for s in series) == 2
    folder = shared_file("hazen", "acr", "PhilipsAchieva")
    files = [(p.name, p.read_bytes()) for p in sorted(folder.iterdir())]
    (acr,), aside = load_mr_series(files)
    assert len(acr.slices) == 11
    locs = [s.slice_location_mm for s in acr.slices]
    assert locs == sorted(locs)
    assert acr.slices[0].phase_encoding_direction in ("ROW", "COL")


def test_dicom_without_image_set_aside_with_its_kind():
    import io as _io

    import pydicom

    ds = pydicom.dcmread(_io.BytesIO(mr_image_bytes(_img())))
    for kw in ("PixelData", "Rows", "Columns"):
        delattr(ds, kw)
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.11.1"  # Grayscale Softcopy Presentation State
    buf = _io.BytesIO()
    ds.save_as(buf)
    series, aside = load_mr_series([("pr.dcm", buf.getvalue()), ("g.dcm", mr_image_bytes(_img()))], lang="en")
    assert len(series) == 1 and len(aside) == 1
    assert aside[0].startswith("pr.dcm: this DICOM holds no image") and "Presentation State" in aside[0]


def test_lazy_volume_memory_is_one_volume():
    """A lazy series keeps no decoded slice: building the volume holds the float32 volume plus about one slice."""
    import tracemalloc

    files = [(f"s{i}.dcm", mr_image_bytes(_img(float(i + 1), shape=(128, 128)), position_mm=[-63.5, -63.5, 2.0 * i],
                                          instance_number=i + 1, series_uid="1.2.3.4")) for i in range(40)]
    (s,), _ = load_mr_series(files, lazy=True)
    tracemalloc.start()
    vol = s.volume()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert vol.shape == (40, 128, 128) and vol[:, 0, 0].tolist() == [float(i + 1) for i in range(40)]
    assert peak < vol.nbytes + 6 * 128 * 128 * 8 + 2_000_000
    assert all(sl.__dict__.get("_pixels") is None for sl in s.slices)
