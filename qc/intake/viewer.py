"""Looking at an image before trusting a number: what the DICOM viewer of the app shows, computed here.

Owns: reading any stored or received image for display (MV RT Image in mm at the isocentre, MR in the image
plane), window/level to 8 bits, the image as an Altair layer whose axes are in mm (so zoom/pan happen in the
browser and a drawn rectangle measures in mm), the distance between two points in mm, and the header as rows
of text (the page shows them as data, never as markup). The page only gathers the user's choices.
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass

import numpy as np
import pydicom
from PIL import Image

from qc.errors import QCInputError
from qc.readers.dicom_io import decode_pixels, read_dataset

DISPLAY_MAX_PX = 768  # the browser gets at most this many pixels a side; distances stay in mm


@dataclass
class ViewImage:
    """One image for display: pixels (rescaled), pixel size in mm and what that mm means."""

    pixels: np.ndarray
    pixel_mm: tuple[float, float]  # (row, column)
    plane: str  # "iso" (MV, at the isocentre) or "image" (MR/other, in the image plane)
    header: list[tuple[str, str, str]]

    @property
    def extent_mm(self) -> tuple[float, float]:
        rows, cols = self.pixels.shape
        return cols * self.pixel_mm[1], rows * self.pixel_mm[0]


def display_name(name: str) -> str:
    """The file's own name for the viewer's menu: the last part of what was uploaded or stored, with either
    separator (a zip member "a/../b.dcm", a Windows path, a server path), never a folder nor "..": the
    menu must not show where the server keeps its data."""
    import re

    parts = [p for p in re.split(r"[\\/]+", str(name or "")) if p not in ("", ".", "..")]
    last = parts[-1] if parts else ""
    return "".join(ch for ch in last if ch.isprintable())[:120] or "image"


def header_rows(ds: pydicom.Dataset, limit: int = 400) -> list[tuple[str, str, str]]:
    """(tag, name, value) of every element but the pixel data, values cut at 200 characters."""
    out = []
    for elem in ds.iterall():
        if elem.tag == (0x7FE0, 0x0010) or elem.VR in ("OB", "OW", "OF", "OD", "UN") and elem.tag.group != 0x0002:
            continue
        value = "" if elem.VR == "SQ" else str(elem.value)
        out.append((f"({elem.tag.group:04X},{elem.tag.element:04X})", elem.name, value[:200]))
        if len(out) >= limit:
            break
    return out


def view_image(name: str, data: bytes) -> ViewImage:
    """Decode one file for display; QCInputError when it holds no image."""
    ds = read_dataset(name, data)
    if "PixelData" not in ds:
        raise QCInputError("viewer.err.no_image", file=name)
    raw = decode_pixels(name, ds).astype(np.float32)
    if raw.ndim == 3:  # multi-frame: the middle frame
        raw = raw[raw.shape[0] // 2]
    slope, intercept = float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
    pixels = raw * slope + intercept
    if "ImagePlanePixelSpacing" in ds and ds.get("RTImageSID") and ds.get("RadiationMachineSAD"):
        sp = [float(x) for x in ds.ImagePlanePixelSpacing]
        scale = float(ds.RadiationMachineSAD) / float(ds.RTImageSID)
        pixel_mm, plane = (sp[0] * scale, sp[1] * scale), "iso"
    elif "PixelSpacing" in ds:
        sp = [float(x) for x in ds.PixelSpacing]
        pixel_mm, plane = (sp[0], sp[1]), "image"
    else:
        pixel_mm, plane = (1.0, 1.0), "pixel"
    return ViewImage(pixels=pixels, pixel_mm=pixel_mm, plane=plane, header=header_rows(ds))


def auto_window(pixels: np.ndarray) -> tuple[float, float]:
    """Window width and level covering the 0.5–99.5 % range of the pixel values."""
    lo, hi = np.percentile(pixels, [0.5, 99.5])
    width = max(float(hi - lo), 1e-6)
    return width, float(lo + hi) / 2.0


def windowed(pixels: np.ndarray, width: float, level: float) -> np.ndarray:
    """8-bit display of `pixels` with the DICOM linear window (PS3.3 C.11.2.1.2, simplified)."""
    lo = level - width / 2.0
    out = np.clip((pixels - lo) / max(width, 1e-6), 0.0, 1.0)
    return (out * 255.0 + 0.5).astype(np.uint8)


def _downsample(img: np.ndarray, max_px: int) -> np.ndarray:
    step = max(1, math.ceil(max(img.shape[:2]) / max_px))
    return img[::step, ::step]


def png_data_uri(img: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(_downsample(img, DISPLAY_MAX_PX)).save(buf, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def distance_mm(x0: float, y0: float, x1: float, y1: float) -> float:
    """Euclidean distance between two points given in mm."""
    return math.hypot(x1 - x0, y1 - y0)


def image_chart(img: np.ndarray, view: ViewImage, measure: bool, axis_x: str, axis_y: str):
    """An Altair chart of the (windowed or overlay) image with axes in mm.

    Without `measure`, wheel and drag zoom and pan the image in the browser; with it, a drawn rectangle is a
    selection (named "mesure") whose diagonal is the distance measured.
    """
    import altair as alt
    import pandas as pd

    w_mm, h_mm = view.extent_mm
    frame = pd.DataFrame({"x": [0.0], "x2": [w_mm], "y": [h_mm], "y2": [0.0], "url": [png_data_uri(img)]})
    x = alt.X("x:Q", scale=alt.Scale(domain=[0, w_mm], nice=False), title=axis_x)
    y = alt.Y("y:Q", scale=alt.Scale(domain=[h_mm, 0], nice=False), title=axis_y)
    base = alt.Chart(frame).mark_image(aspect=False, align="left", baseline="top").encode(x=x, y=y, x2="x2", y2="y2", url="url:N")
    ratio = h_mm / w_mm if w_mm else 1.0
    width = 640
    chart = base.properties(width=width, height=int(width * ratio))
    if measure:
        # a grid of transparent points makes the rectangle selectable anywhere on the image
        n = 48
        gx, gy = np.meshgrid(np.linspace(0, w_mm, n), np.linspace(0, h_mm, n))
        grid = pd.DataFrame({"x": gx.ravel(), "y": gy.ravel()})
        brush = alt.selection_interval(name="mesure", encodings=["x", "y"])
        points = alt.Chart(grid).mark_point(opacity=0).encode(x=x, y=y).add_params(brush)
        return alt.layer(chart, points).properties(width=width, height=int(width * ratio))
    return chart.interactive()
