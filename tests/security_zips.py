"""Builders of hostile archives for the security tests (written streaming: a 1.9 GiB member of
zeros costs about 2 MB of disk and memory, never its inflated size)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

GIB = 1024**3
_CHUNK = 1024**2


def _deflated_zeros(n_bytes: int) -> tuple[bytes, int]:
    """Raw deflate stream of `n_bytes` zeros and its CRC-32, built from one compressed 1 MiB block
    repeated (each block ends with a full flush, so blocks are independent)."""
    assert n_bytes % _CHUNK == 0
    zeros = bytes(_CHUNK)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    n_blocks = n_bytes // _CHUNK
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    end = tail.compress(b"") + tail.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(n_blocks):
        crc = zlib.crc32(zeros, crc)
    return block * n_blocks + end, crc


def zip_bytes(members: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip from (name, stored data, method, crc, declared uncompressed size) records: the
    declared size may lie, which `zipfile` would not let us write."""
    out = bytearray()
    central = bytearray()
    for name, data, method, crc, declared in members:
        nm = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), declared, len(nm), 0) + nm
        out += data
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(data), declared, len(nm), 0, 0, 0, 0, 0, offset
        ) + nm
    cd_offset = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), cd_offset, 0)
    return bytes(out)


def zeros_member(name: str, n_bytes: int, declared: int | None = None) -> tuple[str, bytes, int, int, int]:
    data, crc = _deflated_zeros(n_bytes)
    return (name, data, 8, crc, n_bytes if declared is None else declared)


def stored_member(name: str, data: bytes) -> tuple[str, bytes, int, int, int]:
    return (name, data, 0, zlib.crc32(data), len(data))


def bomb(path: Path) -> Path:
    """One 1.9 GiB member of zeros, honestly declared (under the old 2 GiB cap)."""
    path.write_bytes(zip_bytes([zeros_member("image.dcm", int(1.9 * 1024) * _CHUNK)]))
    return path


def liar(path: Path) -> Path:
    """A member declared as 1 MiB (under every limit) whose data inflate to 1.9 GiB."""
    path.write_bytes(zip_bytes([zeros_member("image.dcm", int(1.9 * 1024) * _CHUNK, declared=_CHUNK)]))
    return path


def liar_big_declared_small(path: Path) -> Path:
    """A member declared as 60 MiB (under the member limit) whose data inflate to 1.9 GiB: read
    until the declared size, then refused (CRC), never inflated further."""
    path.write_bytes(zip_bytes([zeros_member("image.dcm", int(1.9 * 1024) * _CHUNK, declared=60 * _CHUNK)]))
    return path


def three_nested_gib(path: Path) -> Path:
    """A zip of three zips, each with a 1 GiB member of zeros."""
    inner = zip_bytes([zeros_member("image.dcm", GIB)])
    path.write_bytes(zip_bytes([stored_member(f"part{i}.zip", inner) for i in range(3)]))
    return path


def three_nested_gib_lying(path: Path) -> Path:
    """The same, but each inner member declares 60 MiB: caught while inflating, not from headers."""
    inner = zip_bytes([zeros_member("image.dcm", GIB, declared=60 * _CHUNK)])
    path.write_bytes(zip_bytes([stored_member(f"part{i}.zip", inner) for i in range(3)]))
    return path


def many_small_members(path: Path, n_members: int, member_bytes: int) -> Path:
    """Many members of zeros, each under the member limit: the total limit stops them."""
    m = zeros_member("x", member_bytes)
    path.write_bytes(zip_bytes([(f"img{i:04d}.dcm", m[1], m[2], m[3], m[4]) for i in range(n_members)]))
    return path
