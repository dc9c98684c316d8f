"""Hostile uploads (issue 18 §3, §4, §9): zip bombs, lying members, nested archives and cut DICOM
files are refused quickly with bounded memory, by one reader shared by the UI and the CLI.

Memory and time are measured in a fresh subprocess (peak RSS: VmHWM of /proc/self/status), so the
figures do not include pytest's own memory.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import security_zips as hostile
from qc.errors import QCInputError
from qc.readers import dicom_io
from qc.readers.dicom_io import RT_IMAGE, expand_inputs, load_image, load_images, read_paths

REPO = Path(__file__).resolve().parents[1]
MAX_SECONDS = 2.0
MAX_PEAK_MB = 300.0

_PROBE = r"""
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from pathlib import Path
from qc.errors import QCInputError
from qc.readers.dicom_io import expand_inputs, read_paths
path, how = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
cpu_before = time.process_time()
key = "accepted"
try:
    if how == "cli":
        read_paths([path])
    else:  # the page: the upload's bytes in memory, as st.file_uploader gives them
        expand_inputs([(Path(path).name, Path(path).read_bytes())])
except QCInputError as exc:
    key = exc.key
elapsed = time.perf_counter() - t0
cpu_after = time.process_time()
cpu = resource.getrusage(resource.RUSAGE_SELF)
# Peak RSS of this process's own memory (VmHWM): getrusage's ru_maxrss would also count the memory
# of the parent (pytest) that Linux records when the child is started with vfork + exec.
try:
    peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak_kb = cpu.ru_maxrss
print(json.dumps({{"key": key, "seconds": elapsed, "cpu_seconds": cpu_after - cpu_before, "peak_mb": peak_kb / 1024}}))
"""


def probe(path: Path, how: str) -> dict:
    """Read `path` in a fresh interpreter the CLI way or the page way: refusal key, time, peak RSS."""
    code = _PROBE.format(repo=str(REPO))
    out = subprocess.run([sys.executable, "-c", code, str(path), how], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def error_key(fn) -> str:
    with pytest.raises(QCInputError) as exc:
        fn()
    return exc.value.key


@pytest.mark.parametrize("how", ["cli", "ui"])
@pytest.mark.parametrize(
    "build, expected",
    [
        (hostile.bomb, {"err.file_too_large"}),
        (hostile.liar, {"err.zip_corrupt"}),
        (hostile.liar_big_declared_small, {"err.zip_corrupt"}),
        (hostile.three_nested_gib, {"err.file_too_large"}),
        (hostile.three_nested_gib_lying, {"err.file_too_large", "err.zip_corrupt"}),
    ],
    ids=["bomb_1.9GiB", "liar_1MiB_declared", "liar_60MiB_declared", "zip_of_three_1GiB_zips", "nested_liars"],
)
def test_hostile_zip_refused_fast_with_bounded_memory(tmp_path, build, expected, how):
    path = build(tmp_path / "upload.zip")
    assert path.stat().st_size < 8 * 1024**2  # a few MB on disk
    got = probe(path, how)
    assert got["key"] in expected, got
    # CPU time: 8 developers share 2 cores, so wall time here measures the queue more than the reader
    # (wall time is kept loose; on an idle machine it equals the CPU time, see README "Security").
    assert got["cpu_seconds"] < MAX_SECONDS, got
    assert got["seconds"] < 10 * MAX_SECONDS, got
    assert got["peak_mb"] < MAX_PEAK_MB, got


def test_total_limit_stops_many_members_each_under_the_member_limit(tmp_path):
    # 6 members of 50 MiB: each passes the member limit, the sum passes the upload limit.
    assert 50 * 1024**2 < dicom_io.MAX_FILE_BYTES < 6 * 50 * 1024**2 and dicom_io.MAX_TOTAL_BYTES < 6 * 50 * 1024**2
    path = hostile.many_small_members(tmp_path / "many.zip", 6, 50 * 1024**2)
    assert error_key(lambda: read_paths([path])) == "err.upload_too_large"


def test_member_count_and_directory_size_checked_before_parsing(tmp_path, monkeypatch):
    monkeypatch.setattr(dicom_io, "MAX_ZIP_ENTRIES", 10)
    members = [hostile.stored_member(f"f{i}.dcm", b"x") for i in range(11)]
    data = hostile.zip_bytes(members)
    assert error_key(lambda: expand_inputs([("many.zip", data)])) == "err.zip_too_large"


def test_member_count_limit(monkeypatch):
    monkeypatch.setattr(dicom_io, "MAX_ZIP_MEMBERS", 3)
    data = hostile.zip_bytes([hostile.stored_member(f"f{i}.dcm", bytes([i])) for i in range(4)])
    assert error_key(lambda: expand_inputs([("four.zip", data)])) == "err.zip_too_large"


def test_compression_without_output_bound_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_BZIP2) as zf:
        zf.writestr("a.dcm", b"\0" * 1000)
    assert error_key(lambda: expand_inputs([("bz.zip", buf.getvalue())])) == "err.zip_method"


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _rt(hour: int) -> bytes:
    from qc.synthetic import rt_image_bytes, unity_raw_from_signal

    return rt_image_bytes(unity_raw_from_signal(np.full((64, 64), 100.0 * hour)), acquired_at=dt.datetime(2026, 1, 1, hour))


def test_one_level_of_zip_in_zip_read_alike_by_ui_and_cli(tmp_path):
    inner = _zip({"a.dcm": _rt(8), "b.dcm": _rt(9)})
    outer = _zip({"inner.zip": inner, "c.dcm": _rt(10)})
    (tmp_path / "outer.zip").write_bytes(outer)
    ui = expand_inputs([("outer.zip", outer)])
    cli = read_paths([tmp_path / "outer.zip"])
    assert [n for n, _ in ui] == ["outer.zip/inner.zip/a.dcm", "outer.zip/inner.zip/b.dcm", "outer.zip/c.dcm"]
    assert [n.rsplit("outer.zip", 1)[1] for n, _ in cli] == [n.rsplit("outer.zip", 1)[1] for n, _ in ui]
    # The CLI hands the analyser what read_paths read: it is not opened a second time.
    assert load_images(cli, RT_IMAGE, "t")[0].file.filename.endswith("inner.zip/a.dcm")
    assert expand_inputs(cli) == cli


def test_zip_in_zip_in_zip_refused_alike_by_ui_and_cli(tmp_path):
    deep = _zip({"l1.zip": _zip({"l2.zip": _zip({"a.dcm": _rt(8)})})})
    (tmp_path / "deep.zip").write_bytes(deep)
    assert error_key(lambda: expand_inputs([("deep.zip", deep)])) == "err.zip_nested"
    assert error_key(lambda: read_paths([tmp_path / "deep.zip"])) == "err.zip_nested"
    assert error_key(lambda: load_images([("deep.zip", deep)], RT_IMAGE, "t")) == "err.zip_nested"


def test_cli_refuses_the_nested_zip_the_page_refuses(tmp_path):
    """Issue 18 §4: the CLI stored a zip-in-zip-in-zip DICOM that the page refused."""
    deep = _zip({"l1.zip": _zip({"l2.zip": _zip({"a.dcm": _rt(8)})})})
    (tmp_path / "deep.zip").write_bytes(deep)
    out = subprocess.run(
        [sys.executable, "-m", "qc", "--data-dir", str(tmp_path / "d"), "analyse", "field", str(tmp_path / "deep.zip")],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "imbriquée" in out.stderr


def test_plain_file_over_the_limit_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(dicom_io, "MAX_FILE_BYTES", 1000)
    (tmp_path / "big.dcm").write_bytes(b"\0" * 2000)
    assert error_key(lambda: read_paths([tmp_path / "big.dcm"])) == "err.file_too_large"
    assert error_key(lambda: expand_inputs([("big.dcm", b"\0" * 2000)])) == "err.file_too_large"


@pytest.mark.parametrize("cut", [200, 1000, 1500])
def test_cut_dicom_says_truncated(cut):
    data = _rt(8)[:cut]
    with pytest.raises(QCInputError) as exc:
        load_image("coupé.dcm", data, RT_IMAGE, "t")
    assert exc.value.key == "err.truncated"
    assert "tronqué" in exc.value.message("fr")


def test_every_cut_of_a_dicom_says_truncated():
    data = _rt(8)
    for cut in range(140, len(data), 61):
        assert error_key(lambda: load_image("c.dcm", data[:cut], RT_IMAGE, "t")) == "err.truncated", cut


def test_absurd_declared_image_size_refused_before_decoding():
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(_rt(8)))
    ds.NumberOfFrames = 100000  # 64 × 64 × 100 000 × 16 bits = 781 MiB for 8 kB of pixels
    buf = io.BytesIO()
    ds.save_as(buf)
    assert error_key(lambda: load_image("frames.dcm", buf.getvalue(), RT_IMAGE, "t")) == "err.image_too_large"


def _deflated_dicom(extra_zeros: int) -> bytes:
    """A Deflated Explicit VR Little Endian RT Image whose data set inflates to `extra_zeros` more bytes."""
    import struct
    import zlib

    import pydicom

    ds = pydicom.dcmread(io.BytesIO(_rt(8)))
    ds.file_meta.TransferSyntaxUID = pydicom.uid.DeflatedExplicitVRLittleEndian
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    data = buf.getvalue()
    start = 144 + struct.unpack("<I", data[140:144])[0]
    body = zlib.decompress(data[start:], -15)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    # A private tag of zeros after the pixels (OB, 4-byte length), as a hostile file would carry.
    tail = struct.pack("<HH2sHI", 0x7FE1, 0x0010, b"OB", 0, extra_zeros)
    out = comp.compress(body + tail)
    zeros = bytes(1024**2)
    for _ in range(extra_zeros // len(zeros)):
        out += comp.compress(zeros)
    return data[:start] + out + comp.flush()


def test_deflated_dicom_inflating_past_the_limit_refused_before_pydicom():
    small = _deflated_dicom(0)
    assert load_image("ok.dcm", small, RT_IMAGE, "t").shape == (64, 64)
    bomb = _deflated_dicom(200 * 1024**2)
    assert len(bomb) < 1024**2
    assert error_key(lambda: load_image("bomb.dcm", bomb, RT_IMAGE, "t")) == "err.file_too_large"


_CLI_PEAK = r"""
import resource, subprocess, sys, time
t0 = time.perf_counter()
out = subprocess.run([sys.executable, "-m", "qc", "--data-dir", sys.argv[1], "analyse", "field", sys.argv[2]],
                     capture_output=True, text=True, cwd={repo!r})
print(repr((out.returncode, out.stderr, time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)))
"""


@pytest.mark.parametrize("build", [hostile.bomb, hostile.three_nested_gib], ids=["bomb", "three_nested"])
def test_cli_refuses_the_bomb_in_one_sentence_with_bounded_memory(tmp_path, build):
    """Issue 18 §3-4 end to end: the CLI reached 3.7 GB and ran past 300 s on the bomb."""
    import ast

    path = build(tmp_path / "bomb.zip")
    out = subprocess.run([sys.executable, "-c", _CLI_PEAK.format(repo=str(REPO)), str(tmp_path / "d"), str(path)],
                         capture_output=True, text=True, timeout=300)
    code, stderr, seconds, peak_mb = ast.literal_eval(out.stdout.strip())
    assert code == 2 and len(stderr.strip().splitlines()) == 1 and "trop volumineux" in stderr, stderr
    assert peak_mb < MAX_PEAK_MB, peak_mb  # the whole CLI process, imports included
    assert seconds < 60  # interpreter start and imports included (about 2-4 s on the loaded 2-core machine)


def test_decoded_session_size_is_capped(monkeypatch):
    """Images of zeros compress to almost nothing: the upload limit alone would let thousands be
    decoded (16 MB of float64 each for a 1024 × 1024 panel)."""
    from qc.synthetic import rt_image_bytes, unity_raw_from_signal

    files = [(f"z{i}.dcm", rt_image_bytes(unity_raw_from_signal(np.full((64, 64), float(i))), acquired_at=dt.datetime(2026, 1, 1, 8, i)))
             for i in range(5)]
    per_image = 64 * 64 * 8 * 2
    monkeypatch.setattr(dicom_io, "MAX_SESSION_DECODED_BYTES", 3 * per_image)
    with pytest.raises(QCInputError) as exc:
        load_images(files, RT_IMAGE, "t")
    assert exc.value.key == "err.session_too_large" and exc.value.params["n"] == 4
    assert len(load_images(files[:3], RT_IMAGE, "t")) == 3
