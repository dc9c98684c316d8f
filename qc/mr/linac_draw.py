"""Pictures of the MR-Linac MRI QA results (numpy/PIL only): colour maps with the DSV outline, and
per-plane marker deviation maps (arrows coloured by |deviation|). Each returns an RGB uint8 array that
the page shows and the PDF embeds (`AnalysisResult.overlays`)."""

from __future__ import annotations

import numpy as np
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_PATH = Path(__file__).resolve().parent.parent / "reporting" / "fonts" / "DejaVuSans.ttf"


@lru_cache(maxsize=8)
def font(size: int = 13):
    """DejaVu Sans shipped with the app (Δ, ±, °, é all drawn), else PIL's default font."""
    try:
        return ImageFont.truetype(str(FONT_PATH), size)
    except OSError:
        return ImageFont.load_default()


def diverging(values: np.ndarray, limit: float) -> np.ndarray:
    """Blue (−limit) → white (0) → red (+limit), NaN grey: RGB uint8."""
    v = np.clip(np.nan_to_num(values / (limit if limit > 0 else 1.0)), -1, 1)
    r = np.where(v > 0, 1.0, 1.0 + v)
    g = 1.0 - np.abs(v)
    b = np.where(v < 0, 1.0, 1.0 - v)
    rgb = (np.stack([r, g, b], -1) * 255).astype(np.uint8)
    rgb[~np.isfinite(values)] = (90, 90, 90)
    return rgb


def sequential(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Dark blue (lo) → green → yellow (hi), NaN grey: RGB uint8 (a viridis-like ramp)."""
    stops = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], float)
    f = np.clip(np.nan_to_num((values - lo) / (hi - lo if hi > lo else 1.0)), 0, 1) * (len(stops) - 1)
    i = np.minimum(f.astype(int), len(stops) - 2)
    w = (f - i)[..., None]
    rgb = ((1 - w) * stops[i] + w * stops[i + 1]).astype(np.uint8)
    rgb[~np.isfinite(values)] = (90, 90, 90)
    return rgb


def caption_lines(caption: str, width_px: int, size: int = 13) -> list[str]:
    """The caption cut into lines that fit `width_px` (words kept whole; a word longer than the line is
    cut to fit), so a title is never lost past the tile's right edge."""
    f = font(size)
    lines: list[str] = []
    line = ""
    for word in caption.split():
        trial = f"{line} {word}" if line else word
        if f.getlength(trial) <= width_px or not line:
            line = trial
        else:
            lines.append(line)
            line = word
        while f.getlength(line) > width_px and len(line) > 1:  # a single word wider than the tile
            cut = len(line)
            while cut > 1 and f.getlength(line[:cut]) > width_px:
                cut -= 1
            lines.append(line[:cut])
            line = line[cut:]
    if line:
        lines.append(line)
    return lines


CAPTION_MARGIN_PX = 4


def caption_strip(caption: str, width_px: int, size: int = 13) -> Image.Image:
    """A white strip of the tile's width holding the caption, wrapped to fit (see `caption_lines`)."""
    lines = caption_lines(caption, width_px - 2 * CAPTION_MARGIN_PX, size)
    step = round(size * 1.3)
    im = Image.new("RGB", (width_px, step * len(lines) + 4), (255, 255, 255))
    d = ImageDraw.Draw(im)
    for k, line in enumerate(lines):
        d.text((CAPTION_MARGIN_PX, 2 + step * k), line, fill=(0, 0, 0), font=font(size))
    return im


def with_caption(im: Image.Image, caption: str, size: int = 13) -> Image.Image:
    """The picture under its caption strip (the caption no longer covers the top of the map)."""
    if not caption:
        return im
    strip = caption_strip(caption, im.width, size)
    out = Image.new("RGB", (im.width, strip.height + im.height), (255, 255, 255))
    out.paste(strip, (0, 0))
    out.paste(im, (0, strip.height))
    return out


def map_with_circle(
    rgb: np.ndarray, centre_px: tuple[float, float] | None, radius_px: float | None, scale: int = 2, caption: str = "", caption_size: int = 13
) -> np.ndarray:
    """Enlarge a map, draw the DSV circle (black) and put the caption above it, wrapped to the map's width
    (`caption_size`: larger for a tile the page shows shrunk, three side by side)."""
    im = Image.fromarray(rgb).resize((rgb.shape[1] * scale, rgb.shape[0] * scale), Image.NEAREST)
    d = ImageDraw.Draw(im)
    if centre_px is not None and radius_px:
        cx, cy = (centre_px[0] + 0.5) * scale, (centre_px[1] + 0.5) * scale
        r = radius_px * scale
        d.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(0, 0, 0), width=2)
    return np.asarray(with_caption(im, caption, caption_size))


def deviation_plane_map(
    xy_mm: np.ndarray, dev_mm: np.ndarray, *, extent_mm: float, colour_max_mm: float, arrow_gain: float = 20.0, size_px: int = 360, caption: str = "",
    sides: tuple[str, str, str, str] = ("R", "L", "A", "P"),
) -> np.ndarray:
    """One phantom plane seen from the feet: each marker a dot coloured by |deviation| (0 → colour_max)
    and an arrow of its in-plane deviation (LR, AP) magnified `arrow_gain` times. x → right = patient
    left (LR +), y → down = posterior (AP +), as radiology displays a transverse slice."""
    im = Image.new("RGB", (size_px, size_px + 22), (255, 255, 255))
    d = ImageDraw.Draw(im)
    s = (size_px - 20) / (2 * extent_mm)

    def px(x, y):
        return 10 + (x + extent_mm) * s, 22 + 10 + (y + extent_mm) * s

    d.line([px(-extent_mm, 0), px(extent_mm, 0)], fill=(220, 220, 220))
    d.line([px(0, -extent_mm), px(0, extent_mm)], fill=(220, 220, 220))
    f = font(12)
    left, right, top, bottom = sides  # patient directions at the tile's left, right, top and bottom
    d.text((2, 22 + size_px / 2 - 6), left, fill=(120, 120, 120), font=f)
    d.text((size_px - 10, 22 + size_px / 2 - 6), right, fill=(120, 120, 120), font=f)
    d.text((size_px / 2 + 4, 24), top, fill=(120, 120, 120), font=f)
    d.text((size_px / 2 + 4, size_px + 6), bottom, fill=(120, 120, 120), font=f)
    mag = np.linalg.norm(dev_mm, axis=1) if len(dev_mm) else np.zeros(0)
    colours = sequential(mag, 0.0, colour_max_mm) if len(mag) else np.zeros((0, 3), np.uint8)
    for (x, y), (ddx, ddy, _), c in zip(xy_mm, dev_mm, colours):
        a = px(x, y)
        b = px(x + arrow_gain * ddx, y + arrow_gain * ddy)
        d.line([a, b], fill=(30, 30, 30), width=1)
        d.ellipse([a[0] - 3, a[1] - 3, a[0] + 3, a[1] + 3], fill=tuple(int(v) for v in c))
    d.rectangle([0, 0, size_px, 20], fill=(255, 255, 255))
    if not caption:
        return np.asarray(im)
    return np.asarray(with_caption(im.crop((0, 22, im.width, im.height)), caption, 12))


def colour_bar(lo: float, hi: float, unit: str, width: int = 360, diverge: bool = False) -> np.ndarray:
    """A horizontal colour bar with its end values."""
    ramp = np.linspace(lo, hi, width - 20)[None, :].repeat(14, 0)
    rgb = diverging(ramp, max(abs(lo), abs(hi))) if diverge else sequential(ramp, lo, hi)
    im = Image.new("RGB", (width, 34), (255, 255, 255))
    im.paste(Image.fromarray(rgb), (10, 0))
    d = ImageDraw.Draw(im)
    d.text((10, 16), f"{lo:g} {unit}".replace("-", "−"), fill=(0, 0, 0), font=font(13))
    d.text((width // 2 - 4, 16), f"{(lo + hi) / 2:g}".replace("-", "−"), fill=(0, 0, 0), font=font(13))
    d.text((width - 80, 16), f"{hi:+g} {unit}" if diverge else f"{hi:g} {unit}", fill=(0, 0, 0), font=font(13))
    return np.asarray(im)


def stack(images: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """Images one under the other on a white background (widths padded)."""
    w = max(i.shape[1] for i in images)
    h = sum(i.shape[0] for i in images) + gap * (len(images) - 1)
    out = np.full((h, w, 3), 255, np.uint8)
    y = 0
    for i in images:
        out[y : y + i.shape[0], : i.shape[1]] = i
        y += i.shape[0] + gap
    return out


def side_by_side(images: list[np.ndarray], gap: int = 4) -> np.ndarray:
    h = max(i.shape[0] for i in images)
    w = sum(i.shape[1] for i in images) + gap * (len(images) - 1)
    out = np.full((h, w, 3), 255, np.uint8)
    x = 0
    for i in images:
        out[: i.shape[0], x : x + i.shape[1]] = i
        x += i.shape[1] + gap
    return out
