"""Helpers shared by the MR spatial analyser tests (slice thickness, geometry, resolution, ACR)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from conftest import REPO, shared_file
from pages_nav import open_page
from qc.readers.dicom_io import read_paths
from qc.registry import AnalysisContext

HAZEN = ("hazen",)


def real_inputs(*parts: str) -> list[tuple[str, bytes]]:
    """Files (or a folder) of ../shared/data/hazen as (name, bytes), or skip when the data is absent."""
    path: Path = shared_file(*HAZEN, *parts)
    return read_paths([path])


def ctx(**options) -> AnalysisContext:
    return AnalysisContext(options=options)


def demo_page_round_trip(page: str, key: str, qc_data_dir) -> AppTest:
    """Open a test page (its URL path: the test's key), use its demo button, check the result shows (table, overlay) without any error,
    save it and check one session is stored."""
    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity A")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["lang"] = "fr"
    at.session_state["operator"] = "AG"
    at.run()
    open_page(at, page).run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key=f"{key}_demo").click().run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error if not e.value.startswith("✖ Résultat global")]  # the verdict box may be red
    assert not errors, errors
    assert len(at.dataframe) >= 1
    at.button(key=f"{key}_save").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("enregistr" in s.value.lower() for s in at.success), [s.value for s in at.success]
    with open_store(qc_data_dir) as s:
        assert len(s.sessions_frame(test=key)) == 1
    return at


def rewritten(data: bytes, pixels, spacing_scale: float = 1.0) -> bytes:
    """The same DICOM with other pixels (uint16) and PixelSpacing scaled."""
    import io

    import numpy as np
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(data), force=True)
    px = np.clip(np.round(pixels), 0, 65535).astype(np.uint16)
    ds.Rows, ds.Columns = px.shape
    ds.PixelSpacing = [float(v) * spacing_scale for v in ds.PixelSpacing]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = px.tobytes()
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def pixels_of(data: bytes):
    import io

    import numpy as np
    import pydicom

    return pydicom.dcmread(io.BytesIO(data), force=True).pixel_array.astype(np.float64)


def kspace_doubled(data: bytes) -> bytes:
    """The image a scanner gives at twice the matrix from the same acquisition: k-space zero-padded (sinc
    interpolation), pixels of half the size, PixelSpacing halved."""
    import numpy as np

    a = pixels_of(data)
    n_r, n_c = a.shape
    k = np.fft.fftshift(np.fft.fft2(a))
    big = np.zeros((2 * n_r, 2 * n_c), complex)
    big[n_r // 2 : n_r // 2 + n_r, n_c // 2 : n_c // 2 + n_c] = k
    return rewritten(data, np.fft.ifft2(np.fft.ifftshift(big)).real * 4, 0.5)
