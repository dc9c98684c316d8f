"""The stored session is the record: what is drawn once when a session is stored, and read back to show it.

Owns:
- `drawn_pictures`: at store time, the analyser's overlays (PNG bytes, already drawn) and the charts its page
  draws (`charts(result, lang)` of the analyser's module, as Vega-Lite JSON with their data inline), each
  bounded in size; what does not fit is not kept and a warning sentence, stored with the session, says so;
- `stored_record`: the pictures of a stored session read back from the data folder (`Store.session_pictures`),
  and whether the session was stored with them at all (sessions stored before this record have none:
  the faces say so in one sentence, they never analyse the files again to draw them).

The pictures are files of the data folder's content-addressed store (`files/<2 hex>/<sha256>`, as the input
files): the database holds their title, kind, hash and size (`session_pictures`, migration m008).
"""

from __future__ import annotations

import importlib
import io
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qc.i18n import t

log = logging.getLogger(__name__)

OVERLAY = "overlay"
CHART = "chart"
# An overlay wider or taller than this is stored downsampled (a review needs no more; a 4096² RGB PNG is ~20 MB).
MAX_OVERLAY_PX = 1600
# A chart spec larger than this (profiles of every leaf of every image...) is not kept: a warning says so.
MAX_CHART_BYTES = 4_000_000
# Everything drawn for one session: pictures past this total are not kept (a warning says so).
MAX_SESSION_BYTES = 40_000_000


@dataclass
class Picture:
    """One drawn picture of a session: an overlay (PNG) or a chart (Vega-Lite JSON, data inline)."""

    kind: str
    title: str
    data: bytes = field(repr=False)

    @property
    def chart_spec(self) -> dict[str, Any]:
        return json.loads(self.data.decode("utf-8"))


def png_bytes(rgb: np.ndarray, max_px: int = MAX_OVERLAY_PX) -> bytes:
    """An overlay as PNG, downsampled by an integer step when a side exceeds `max_px`."""
    from PIL import Image

    img = np.asarray(rgb)
    step = max(1, int(np.ceil(max(img.shape[:2]) / max_px)))
    if step > 1:
        img = img[::step, ::step]
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    # Level 3: measured 0.07 s for a 512² overlay against 0.26 s at the default 6, for a file 5 % smaller.
    Image.fromarray(img).save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def chart_maker(spec) -> Any:
    """The analyser module's `charts(result, lang)` (the charts its page draws), or None."""
    if spec.analyse is None:
        return None
    module = importlib.import_module(spec.analyse.__module__)
    return getattr(module, "charts", None)


def drawn_pictures(spec, result, lang: str, warnings: list[str]) -> list[Picture]:
    """The overlays and charts of an analysis, drawn once to be stored with the session.

    A picture past its bound, or past the session's total, is not kept: one sentence per picture goes to
    `warnings` (stored with the session). A chart the analyser fails to draw is a bug: logged, and said in
    `warnings`, the session is stored without it."""
    out: list[Picture] = []
    total = 0

    def keep(p: Picture, limit: int) -> None:
        nonlocal total
        if len(p.data) > limit or total + len(p.data) > MAX_SESSION_BYTES:
            warnings.append(t("record.warn.picture_not_kept", lang, title=p.title, mb=f"{len(p.data) / 1e6:.1f}"))
            return
        total += len(p.data)
        out.append(p)

    for title, rgb in result.overlays:
        keep(Picture(OVERLAY, str(title), png_bytes(rgb)), MAX_SESSION_BYTES)
    charts = chart_maker(spec)
    if charts is not None:
        try:
            drawn = list(charts(result, lang))
        except Exception as exc:  # noqa: BLE001 - the session is stored; the missing chart is said, not hidden
            log.exception("charts of %s failed", spec.key)
            warnings.append(t("record.warn.chart_failed", lang, error=f"{type(exc).__name__}: {exc}"))
            drawn = []
        for title, chart in drawn:
            # Not validated against the Vega-Lite schema again (the page draws the same chart): half the time of to_json.
            spec_json = json.dumps(chart.to_dict(validate=False), ensure_ascii=False, default=str)
            keep(Picture(CHART, str(title), spec_json.encode("utf-8")), MAX_CHART_BYTES)
    return out


@dataclass
class StoredRecord:
    """What a face shows of a stored session besides its rows: its pictures, and whether any were kept."""

    overlays: list[tuple[str, bytes]]
    charts: list[tuple[str, dict[str, Any]]]
    kept: bool  # False: the session was stored before pictures were stored with it (or its files are gone)
    missing: int = 0  # pictures the database lists whose file is gone from the data folder


def stored_record(store, session: dict) -> StoredRecord:
    """The pictures stored with `session` (a `Store.session` dict), read from the data folder, never redrawn."""
    rows = store.session_pictures(session["id"])
    overlays, charts, missing = [], [], 0
    for r in rows:
        data = store.file_bytes(r["stored_path"])
        if data is None:
            missing += 1
            continue
        if r["kind"] == OVERLAY:
            overlays.append((r["title"], data))
        else:
            charts.append((r["title"], json.loads(data.decode("utf-8"))))
    kept = bool(session.get("record_version"))
    return StoredRecord(overlays=overlays, charts=charts, kept=kept, missing=missing)


def stored_spec(session: dict):
    """A `TestSpec` naming a stored session from its own stored names (test and metric labels): how a face
    labels a session whose test is no longer in the registry (an analyser removed or renamed). It has no
    analyser; None when the session predates stored names."""
    from qc.spec import MetricSpec, TestSpec

    names = session.get("names") or {}
    if not names.get("test"):
        return None
    name_fr, name_en, frequency, kind = (list(names["test"]) + ["", "", "", ""])[:4]
    metrics = tuple(MetricSpec(n, unit, fr, en, trend=bool(trend)) for n, (unit, fr, en, trend) in (names.get("metrics") or {}).items())
    return TestSpec(key=session["test"], name_fr=name_fr, name_en=name_en, frequency=frequency or "monthly", kind=kind or "dicom",
                    metrics=metrics, version=session.get("analyser_version") or "")


def spec_for_session(session: dict, specs_by_key: dict):
    """The registry's spec of the session's test, else one made of its stored names, else None."""
    return specs_by_key.get(session["test"]) or stored_spec(session)


class VersionText:
    """A version for a message ("2.0" stays "2.0": it names a method, it is not a number to write with a
    decimal comma in French, which `qc.i18n.t` does to any parameter that reads as a decimal number)."""

    def __init__(self, version: str | None) -> None:
        self.text = version or "—"

    def __format__(self, spec: str) -> str:
        return format(self.text, spec)

    def __str__(self) -> str:
        return self.text
