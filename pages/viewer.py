"""Visionneuse: any stored or received image with window/level, zoom/pan (mouse wheel and drag), a distance
tool in mm (at the isocentre for MV images, in the image plane for MR), the overlay stored with the session
toggled on and off (never redrawn by analysing again), and the DICOM header. Opened from History (?session=ID) or the review queue (?inbox=1)."""

from pages.common import ensure_navigation

ensure_navigation()

import io  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from pages.common import T, get_store, lang  # noqa: E402
from qc.demo import RegeneratedImagesDiffer  # noqa: E402
from qc.errors import QCInputError  # noqa: E402
from qc.intake import viewer  # noqa: E402
from qc.record import stored_record  # noqa: E402
from qc.records.intake import inbox_files_to_view  # noqa: E402
from qc.records.sessions import session_files_to_view  # noqa: E402
from qc.textsafe import md_escape  # noqa: E402

store = get_store()
st.title(T("viewer.title"))
st.caption(T("viewer.caption"))

# ---- what to look at: a stored session's files, or objects received automatically
sources: dict[str, tuple[str, int | None, str]] = {}  # label -> (path in the data folder, session id, test)
for r in session_files_to_view(store, with_bytes=True, limit=500):
    # The file's own name only (a zip member may be "../x.dcm"; a path would tell where the data lives).
    sources[f"{T('viewer.session')} {r['sid']} — {r['acquired_at'][:16]} — {viewer.display_name(r['filename'])}"] = (r["stored_path"], r["sid"], r["test"])
if store.get_setting("demo") == "1":
    # The demo's older sessions keep no files: their images are generated again when one is opened (qc.demo).
    from qc.demo import regenerable_sessions

    regenerable = regenerable_sessions(store.data_dir)
    for r in session_files_to_view(store, with_bytes=False, limit=500):
        if r["sid"] in regenerable:
            sources[f"{T('viewer.session')} {r['sid']} — {r['acquired_at'][:16]} — {viewer.display_name(r['filename'])} "
                    f"({T('viewer.regenerated')})"] = (f"demo:{r['filename']}", r["sid"], r["test"])
for r in inbox_files_to_view(store, limit=500):  # swept files (inbox quota) are gone
    sources[f"{T('viewer.received')} {r['received_at'][:16]} — {(r['label'] or '')[:60]}"] = (r["path"], r["session_id"], r["test"] or "")
if not sources:
    st.info(T("viewer.none"))
    st.stop()

wanted = st.query_params.get("session")
labels = list(sources)
default = next((i for i, k in enumerate(labels) if wanted and sources[k][1] == int(wanted) if str(wanted).isdigit()), 0)
choice = st.selectbox(T("viewer.image"), labels, index=default, key="viewer_choice")
path, session_id, test_key = sources[choice]


def regenerated(sid: int) -> dict[str, bytes]:
    """A demo session's images generated again from its recipe, checked against the stored sha256 (kept for the session)."""
    cache = st.session_state.get("viewer_regenerated")
    if cache is None or cache[0] != sid:
        from qc.demo import regenerate_inputs

        with st.spinner(T("viewer.regenerating")):
            cache = (sid, dict(regenerate_inputs(store, sid)))
        st.session_state["viewer_regenerated"] = cache
    return cache[1]


full = Path(path) if Path(path).is_absolute() else Path(store.data_dir) / path
try:
    if path.startswith("demo:") and session_id:
        name = path[len("demo:"):]
        view = viewer.view_image(viewer.display_name(name), regenerated(session_id)[name])
    elif store.data_dir.resolve() not in full.resolve().parents:
        raise QCInputError("viewer.err.no_image", file=viewer.display_name(full.name))
    else:
        view = viewer.view_image(viewer.display_name(full.name), full.read_bytes())
except RegeneratedImagesDiffer:  # the regenerated images differ from the stored ones: never shown as the session's
    st.error(T("viewer.err.regenerated_differ", session=session_id))
    st.stop()
except QCInputError as exc:
    st.error(md_escape(exc.message(lang())))
    st.stop()
except OSError:  # its text holds the server's path: say which image, not where it is
    st.error(md_escape(T("viewer.err.unreadable", file=viewer.display_name(full.name))))
    st.stop()

# ---- display controls
auto_w, auto_l = viewer.auto_window(view.pixels)
lo, hi = float(view.pixels.min()), float(view.pixels.max())
c1, c2, c3 = st.columns(3)
width = c1.slider(T("viewer.window"), min_value=max((hi - lo) / 500, 1e-3), max_value=max(hi - lo, 1e-3) * 1.5,
                  value=min(auto_w, max(hi - lo, 1e-3) * 1.5), key="viewer_w")
level = c2.slider(T("viewer.level"), min_value=lo, max_value=max(hi, lo + 1e-3), value=min(max(auto_l, lo), max(hi, lo + 1e-3)), key="viewer_l")
mode = c3.radio(T("viewer.mode"), ["zoom", "measure"], format_func=lambda m: T(f"viewer.mode.{m}"), horizontal=True, key="viewer_mode")
invert = st.toggle(T("viewer.invert"), key="viewer_invert")
show_overlay = False
overlay = None
if session_id and test_key:
    show_overlay = st.toggle(T("viewer.overlay"), key="viewer_overlay")
    if show_overlay:
        # The overlays drawn when the session was stored (its record), never a new analysis of its files.
        s = store.session(session_id)
        rec = stored_record(store, s)
        if not rec.kept:
            st.info(T("record.no_pictures"), icon=":material/hide_image:")
        elif rec.missing:
            st.warning(T("record.pictures_missing", n=rec.missing))
        if rec.overlays:
            names = [title for title, _ in rec.overlays]
            pick = st.selectbox(T("viewer.overlay_image"), range(len(names)), format_func=lambda i: names[i], key="viewer_ov_pick")
            overlay = np.asarray(Image.open(io.BytesIO(rec.overlays[pick][1])).convert("RGB"))

img = overlay if overlay is not None else viewer.windowed(view.pixels, width, level)
if invert and overlay is None:
    img = 255 - img
axis = T("viewer.axis_iso") if view.plane == "iso" else T("viewer.axis_image")
event = st.altair_chart(
    viewer.image_chart(img, view, measure=(mode == "measure"), axis_x=f"x ({axis})", axis_y=f"y ({axis})"),
    on_select="rerun" if mode == "measure" else "ignore",
    key="viewer_chart",
)
if mode == "measure":
    sel = (getattr(event, "selection", None) or {}).get("mesure") or {}
    if sel.get("x") and sel.get("y"):
        (x0, x1), (y0, y1) = sel["x"], sel["y"]
        d = viewer.distance_mm(x0, y0, x1, y1)
        st.success(T("viewer.distance", d=f"{d:.2f}", dx=f"{abs(x1 - x0):.2f}", dy=f"{abs(y1 - y0):.2f}", plane=axis))
    else:
        st.caption(T("viewer.measure_help"))
st.caption(T("viewer.pixel", row=f"{view.pixel_mm[0]:.4f}", col=f"{view.pixel_mm[1]:.4f}", plane=axis))

with st.expander(T("viewer.header")):
    header = pd.DataFrame(view.header, columns=[T("viewer.col.tag"), T("viewer.col.name"), T("viewer.col.value")])
    st.dataframe(header, hide_index=True, width="stretch")
