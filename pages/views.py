"""Each test's own part of its page (not a page file): the small hooks the one flow (`pages.flow`) calls for a
test — its analyser options under the uploader, what it shows besides the verdict, table, pictures and details
(charts, Winston-Lutz's move-the-BB sentence, the leaves' worst-leaf views, PIQT's tables), the baseline it can
make, the MR-Linac tests' settings. `view_of(key)` gives a test's hooks; a test not named here has none (the flow
alone). The analyser modules are imported only when their page is drawn."""

from __future__ import annotations

from typing import Callable

import streamlit as st

from pages.common import STATUS_BG, T, allowed, arrow_safe, get_store, items_frame, lang, operator, page_of
from pages.flow import TestView
from qc import pipeline
from qc.display import display_frame, status_word
from qc.errors import QCInputError
from qc.registry import analyser_module
from qc.textsafe import md_escape


def charts_of(module) -> Callable[[pipeline.Analysis], None]:
    """Show the Altair charts a test module draws for its result (`module.charts(result, lang)`)."""

    def show(analysis: pipeline.Analysis) -> None:
        for _title, chart in module.charts(analysis.result, lang()):
            st.altair_chart(chart, width="stretch")

    return show


# ------------------------------------------------------------------ MV imager tests


def field_options() -> dict:
    """The nominal field of the session, when the images' headers do not give the jaws."""
    from qc.mv import field

    text = st.text_input(T("field.nominal.label"), key="field_nominal", placeholder="100x100", help=T("field.nominal.help"))
    try:
        nominal = field.parse_nominal_mm(text)
    except QCInputError as exc:
        st.error(exc.message(lang()))
        return {}
    return {"nominal_field_mm": nominal} if nominal else {}


def wl_options() -> dict:
    """Gantry angles typed for files that carry none, and the BB diameter when the user knows it."""
    opts: dict = {}
    with st.expander(T("wl.angles.label"), expanded=False):
        text = st.text_area(T("wl.angles.label"), key="wl_angles", height=90, label_visibility="collapsed", placeholder="image1.dcm = 90")
        angles = {}
        for line in (text or "").splitlines():
            if not line.strip():
                continue
            name, sep, value = line.partition("=")
            try:
                angles[name.strip()] = float(value.strip().replace(",", ".")) if sep else None
            except ValueError:
                angles[name.strip()] = None
            if angles[name.strip()] is None:
                st.error(T("wl.angles.bad", line=md_escape(line.strip())))
                angles.pop(name.strip())
        if angles:
            opts["gantry_angles"] = angles
        d = st.text_input(T("wl.bb.label"), key="wl_bb_d")
        try:
            if d.strip():
                opts["bb_diameter_mm"] = float(d.replace(",", "."))
        except ValueError:
            st.error(T("wl.angles.bad", line=md_escape(d)))
    return opts


def wl_shift(analysis) -> None:
    from qc.mv import winston_lutz

    r = analysis.result
    st.subheader(T("wl.shift.title"))
    st.info(md_escape(r.extra.get("shift_words", "")), icon=":material/open_with:")
    st.caption(T("wl.shift.frame"))
    for i, (_, chart) in enumerate(winston_lutz.charts(r, lang())):
        # the polar plot keeps its square aspect (stretched, its circles would become ellipses)
        st.altair_chart(chart, width="content" if i == 0 else "stretch")


def leaves_view(analysis: pipeline.Analysis) -> None:
    from qc.mv import leaves

    charts_of(leaves)(analysis)
    failing = leaves.failing_leaves(analysis.result)
    if len(failing) > 6:  # the chart above shows the six worst: any other failing leaf on demand
        labels = [leaves.leaf_label(it, lang()) for it in failing]
        pick = st.selectbox(T("leaves.ui.pick_leaf"), range(len(failing)), format_func=lambda i: labels[i])
        st.altair_chart(leaves.failing_profile_chart(analysis.result, lang(), leaves=[failing[pick]]), width="stretch")
    worst = leaves.worst_leaves(analysis.result, 10)
    if worst:
        st.subheader(T("ui.worst_leaves"))
        st.dataframe(items_frame(worst, lang(), analysis.spec), hide_index=True, width="stretch")


# ------------------------------------------------------------------ PIQT


def piqt_table(raw):
    """A PIQT section for display: labelled columns, the report's criterion, status words (PIQT's own:
    conforme / hors critère / sans critère), numbers without trailing zeros, blanks for empty cells."""
    shown = display_frame(raw.drop(columns=["status"]), lang()) if "status" in raw.columns else display_frame(raw, lang())
    if "status" in raw.columns:
        shown[T("display.col.status")] = [status_word(c, lang(), v, icon=True) if c != "none" else T("piqt.status.none")
                                          for c, v in zip(raw["status"], raw["value"])]
    return shown


def piqt_view(analysis: pipeline.Analysis) -> None:
    from qc.mr import piqt

    result = analysis.result
    store = get_store()
    sections = list(dict.fromkeys(it["section"] for it in result.items))
    machine_id = analysis.machine["id"] if analysis.machine else None
    history = store.metrics_frame(machine_id=machine_id, test="piqt") if machine_id else None
    for section in sections:
        st.subheader(section)
        raw = piqt.section_table(result, section)
        table = piqt_table(raw)
        codes = list(raw["status"]) if "status" in raw.columns else []
        if codes:
            st.dataframe(
                table.style.apply(lambda row: [f"background-color: {STATUS_BG.get(str(codes[row.name]), '#ffffff')}"] * len(row), axis=1),
                hide_index=True, width="stretch",
            )
        else:
            st.dataframe(table, hide_index=True, width="stretch")
        if history is not None and not history.empty:
            items = {(it["parameter"], it.get("item") or "") for it in result.items if it["section"] == section}
            h = history[[(m, i) in items for m, i in zip(history["metric"], history["item"])]]
            if not h.empty:
                with st.expander(T("ui.piqt_history", section=section)):
                    pivot = h.pivot_table(index=["metric", "item"], columns=h["acquired_at"].dt.strftime("%Y-%m-%d"), values="value", aggfunc="last")
                    pivot = pivot.reset_index()
                    pivot = pivot.rename(columns={"metric": T("display.col.parameter"), "item": T("display.col.item")})
                    st.dataframe(arrow_safe(pivot), hide_index=True, width="stretch")
    for title, chart in piqt.charts(result, lang()):
        st.altair_chart(chart, width="stretch")


# ------------------------------------------------------------------ MR-Linac MRI QA tests


def _numbers(text: str) -> list[float]:
    """Numbers separated by ";" or spaces; a comma is a decimal comma (French)."""
    import re

    return [float(p.replace(",", ".")) for p in re.split(r"[;\s]+", text.strip()) if p]


def options_form(store, key: str, prefix: str) -> None:
    """The analysis settings of a test (isocentre; gantry angles; phantom layout), stored as the
    setting `options.<test>` (audited) and used by every later analysis, for physicists only."""
    import json

    if not allowed("tolerances"):
        return
    saved = json.loads(store.get_setting(f"options.{key}") or "{}")
    with st.expander(T("mrl.opt.title")):
        with st.form(f"{prefix}_options"):
            iso = st.text_input(T("mrl.opt.isocentre"), value=" ; ".join(f"{v:g}" for v in saved.get("isocentre_mm", (0.0, 0.0, 0.0))), key=f"{prefix}_opt_iso")
            fields = {}
            if key == "mr-b0-gantry":
                fields["gantry_angles_deg"] = st.text_input(T("mrl.opt.angles"), value=" ; ".join(f"{v:g}" for v in saved.get("gantry_angles_deg", [])), key=f"{prefix}_opt_angles", help=T("mrl.opt.angles_help"))
            if key == "mr-geometry-3d":
                # empty: the Unity phantom's own marker list (the default); two numbers: another phantom's ellipse
                fields["phantom_semi_axes_mm"] = st.text_input(T("mrl.opt.semi"), value=" ; ".join(f"{v:g}" for v in saved.get("phantom_semi_axes_mm", ())), key=f"{prefix}_opt_semi", help=T("mrl.opt.semi_help"))
                fields["planes_hf_mm"] = st.text_input(T("mrl.opt.planes"), value=" ; ".join(f"{v:g}" for v in saved.get("planes_hf_mm", (-165, -110, -55, 0, 55, 110, 165))), key=f"{prefix}_opt_planes")
                fields["grid_pitch_mm"] = st.text_input(T("mrl.opt.pitch"), value=f"{saved.get('grid_pitch_mm', 25.0):g}", key=f"{prefix}_opt_pitch")
            submitted = st.form_submit_button(T("mrl.opt.save"))
        if not submitted:
            return
        try:
            new = dict(saved)
            xyz = _numbers(iso)
            if len(xyz) != 3:
                raise ValueError(T("mrl.opt.err_iso"))
            new["isocentre_mm"] = xyz
            for name, text in fields.items():
                values = _numbers(text)
                if name == "grid_pitch_mm":
                    if len(values) != 1 or values[0] <= 0:
                        raise ValueError(T("mrl.opt.err_positive"))
                    new[name] = values[0]
                elif name == "phantom_semi_axes_mm":
                    if not values:
                        new.pop(name, None)
                        continue
                    if len(values) != 2 or min(values) <= 0:
                        raise ValueError(T("mrl.opt.err_semi"))
                    new[name] = values
                elif name == "gantry_angles_deg":
                    if values and len(values) < 2:
                        raise ValueError(T("mrl.opt.err_angles"))
                    if values:
                        new[name] = values
                    else:
                        new.pop(name, None)
                else:
                    if not values:
                        raise ValueError(T("mrl.opt.err_planes"))
                    new[name] = values
        except ValueError as exc:
            st.error(str(exc) if str(exc) and not str(exc).startswith("could not") else T("mrl.opt.err_number"))
            return
        store.set_setting(f"options.{key}", json.dumps(new), user=operator())
        # analysed again with the new settings, on the test's page and on the study page
        st.session_state.pop(f"{prefix}_analyses", None)
        st.session_state.pop("mr_linac_analyses", None)
        st.success(T("mrl.opt.saved"))


def mr_linac_above(store, spec, prefix: str) -> None:
    """Above an MR-Linac test's uploader: the way to the study page, and the test's settings (physicists)."""
    study = page_of("mr-linac")
    if study is not None:
        st.page_link(study, label=T("mrl.page.title"), icon=":material/folder_open:")
    options_form(store, spec.key, prefix)


def _mr_linac_view(key: str) -> TestView:
    module = analyser_module(key)
    return TestView(extra=charts_of(module) if hasattr(module, "charts") else None, above=mr_linac_above, progress=True,
                    prefix=key.replace("-", "_"))


# ------------------------------------------------------------------ the hooks of each test


def _field() -> TestView:
    from qc.mv import field

    return TestView(extra=charts_of(field), baseline=field.baseline_from_result, options=field_options)


def _slits() -> TestView:
    from qc.mv import slits

    return TestView(extra=charts_of(slits), baseline=getattr(slits, "baseline_from_result", None))


# A test's hooks, made when its page is drawn (no analyser imported before); a test not named here has none.
VIEWS: dict[str, Callable[[], TestView]] = {
    "field": _field,
    "leaves": lambda: TestView(extra=leaves_view),
    "slits": _slits,
    "wl": lambda: TestView(extra=wl_shift, options=wl_options),
    "piqt": lambda: TestView(extra=piqt_view),
    "mr-b0": lambda: _mr_linac_view("mr-b0"),
    "mr-b0-gantry": lambda: _mr_linac_view("mr-b0-gantry"),
    "mr-b1": lambda: _mr_linac_view("mr-b1"),
    "mr-geometry-3d": lambda: _mr_linac_view("mr-geometry-3d"),
}


def view_of(key: str) -> TestView:
    """The hooks of the test `key` on its page (none: the flow alone)."""
    make = VIEWS.get(key)
    return make() if make is not None else TestView()
