"""Settings: machines and their dated CAX calibration, tolerances (dated, never edited in place),
logged tests defined without code, and the default language. Every change is audited."""

from __future__ import annotations

from pages.common import ensure_navigation

ensure_navigation()

import datetime as dt

import pandas as pd
import streamlit as st

from pages.common import T, allowed, get_store, lang, operator, require, tests
from qc.display import display_frame
from qc.records.logged import Derived, LoggedField, LoggedTest, save_custom_logged_test
from qc.records.sessions import sessions_count
from qc.registry import FREQUENCIES
from qc.textsafe import md_escape
from qc.tolerances import Tolerance

from pages.events import render_events_form

store = get_store()
st.title(T("nav.settings"))
require("tolerances")
user = operator()
if not user:
    st.warning(T("set.operator_needed"))

tab_m, tab_t, tab_l, tab_g, tab_u, tab_a = st.tabs(
    [T("set.tab_machines"), T("set.tab_tolerances"), T("set.tab_logged"), T("set.tab_general"), T("set.tab_users"), T("set.tab_alerts")]
)

# ------------------------------------------------------------------ machines and CAX calibration
with tab_m:
    machines = store.machines()
    if machines:
        st.dataframe(display_frame(pd.DataFrame(machines), lang(), ["name", "station_name", "device_serial", "model", "created_at"]), hide_index=True, width="stretch")
    if allowed("machines"):
        with st.form("set_add_machine", clear_on_submit=True):
            st.markdown("**" + T("set.add_machine") + "**")
            c1, c2, c3 = st.columns(3)
            name = c1.text_input(T("set.machine_name"), key="set_m_name")
            station = c2.text_input(T("display.col.station_name"), key="set_m_station")
            serial = c3.text_input(T("display.col.device_serial"), key="set_m_serial")
            # First beam-axis calibration, valid from the earliest stored session by default (never today).
            first_date = store.earliest_acquisition()
            c4, c5, c6 = st.columns(3)
            new_u = c4.number_input(T("settings.cax_u"), value=None, format="%.2f", key="set_m_cax_u", help=T("settings.cax_help"))
            new_v = c5.number_input(T("settings.cax_v"), value=None, format="%.2f", key="set_m_cax_v")
            new_from = c6.date_input(T("settings.cax_valid_from"), value=dt.date.fromisoformat(first_date[:10]) if first_date else dt.date.today(),
                                     key="set_m_cax_from")
            if st.form_submit_button(T("set.add")):
                if not user:
                    st.error(T("ui.operator_required"))
                elif not name.strip():
                    st.error(T("set.name_required"))
                else:
                    new_id = store.add_machine(name, station, serial, user=user)
                    if new_u is not None and new_v is not None and not store.calibrations(new_id):
                        store.add_calibration(new_id, new_u, new_v, new_from.isoformat(), user=user)
                    st.rerun()
    if machines:
        st.markdown("**" + T("set.cax_title") + "**")
        st.caption(T("set.cax_help"))
        m = st.selectbox(T("ui.machine"), machines, format_func=lambda x: x["name"], key="set_cax_machine")
        cals = store.calibrations(m["id"])
        if cals:
            st.dataframe(display_frame(pd.DataFrame(cals), lang(), ["u0", "v0", "valid_from", "created_by", "created_at", "comment"]), hide_index=True, width="stretch")
        else:
            st.info(T("set.no_cax"))
        with st.form("set_cax_form"):
            c1, c2, c3 = st.columns(3)
            u0 = c1.number_input(T("display.col.u0"), value=511.03, format="%.2f", key="set_cax_u0")
            v0 = c2.number_input(T("display.col.v0"), value=652.75, format="%.2f", key="set_cax_v0")
            first_date = None if cals else store.earliest_acquisition(m["id"])  # a first calibration covers the past
            valid = c3.date_input(T("set.valid_from"), value=dt.date.fromisoformat(first_date[:10]) if first_date else dt.date.today(), key="set_cax_from")
            comment = st.text_input(T("set.reason"), key="set_cax_comment")
            if st.form_submit_button(T("set.add_cax")):
                if not user:
                    st.error(T("ui.operator_required"))
                else:
                    store.add_calibration(m["id"], u0, v0, valid.isoformat(), user=user, comment=comment)
                    st.rerun()
        render_events_form(store, m, user)

# ------------------------------------------------------------------ tolerances
with tab_t:
    specs = tests(store)
    spec_by_key = {s.key: s for s in specs}
    test = st.selectbox(T("hist.test"), list(spec_by_key), format_func=lambda k: spec_by_key[k].name(lang()), key="set_tol_test")
    spec = spec_by_key[test]
    frame = store.tolerances_frame(test)
    if not frame.empty:
        st.dataframe(display_frame(frame.assign(machine=frame["machine"].fillna(T("set.all_machines"))), lang(),
                                   ["metric", "machine", "mode", "nominal", "act_low", "tol_low", "tol_high", "act_high", "unit", "valid_from",
                                    "reference", "created_by", "comment"], spec=spec),
                     hide_index=True, width="stretch")
    else:
        st.info(T("set.no_tolerance"))
    metrics = [m for m in spec.metrics]
    if metrics:
        st.markdown("**" + T("set.new_tolerance") + "**")
        metric = st.selectbox(T("hist.metric"), metrics, format_func=lambda m: f"{m.label(lang())} ({m.unit})" if m.unit else m.label(lang()), key="set_tol_metric")
        with st.form(f"set_tol_form_{test}_{metric.name}"):
            current = store.tolerance_for(test, metric.name, None, dt.datetime.now()) or metric.tolerance or Tolerance()
            c1, c2, c3, c4 = st.columns(4)

            def num(col, label, value, key):
                text = col.text_input(label, value="" if value is None else f"{value:g}", key=key)
                return None if not text.strip() else float(text.replace(",", "."))

            try:
                act_low = num(c1, T("set.act_low"), current.act_low, f"set_tol_al_{test}_{metric.name}")
                tol_low = num(c2, T("set.tol_low"), current.tol_low, f"set_tol_tl_{test}_{metric.name}")
                tol_high = num(c3, T("set.tol_high"), current.tol_high, f"set_tol_th_{test}_{metric.name}")
                act_high = num(c4, T("set.act_high"), current.act_high, f"set_tol_ah_{test}_{metric.name}")
                c5, c6, c7 = st.columns(3)
                mode = c5.selectbox(T("set.mode"), ["absolute", "relative"], index=0 if current.mode == "absolute" else 1,
                                    format_func=lambda x: T("set.mode_" + x), key=f"set_tol_mode_{test}_{metric.name}")
                nominal = num(c6, T("set.nominal"), current.nominal, f"set_tol_nominal_{test}_{metric.name}")
                valid = c7.date_input(T("set.valid_from"), value=dt.date.today(), key=f"set_tol_from_{test}_{metric.name}")
                machine_choice = st.selectbox(T("ui.machine"), [None] + store.machines(),
                                              format_func=lambda m: T("set.all_machines") if m is None else m["name"], key=f"set_tol_machine_{test}_{metric.name}")
                reference = st.text_input(T("set.reference"), value=current.reference, key=f"set_tol_ref_{test}_{metric.name}")
                comment = st.text_input(T("set.reason"), key=f"set_tol_comment_{test}_{metric.name}")
                submitted = st.form_submit_button(T("set.save_tolerance"))
            except ValueError:
                st.error(T("set.bad_number"))
                submitted = False
            if submitted:
                if not user:
                    st.error(T("ui.operator_required"))
                elif not comment.strip():
                    st.error(T("set.reason_required"))
                else:
                    try:
                        tol = Tolerance(act_low, tol_low, tol_high, act_high, nominal=nominal, mode=mode, reference=reference)
                    except ValueError as exc:
                        st.error(T("set.bad_tolerance", error=md_escape(str(exc))))
                    else:
                        store.set_tolerance(test, metric.name, tol, unit=metric.unit, machine_id=machine_choice["id"] if machine_choice else None,
                                            valid_from=valid.isoformat(), user=user, comment=comment)
                        st.success(T("set.tolerance_saved"))
                        st.rerun()

# ------------------------------------------------------------------ logged tests defined by data


DEFINITION_KEYS = ("key", "label_fr", "label_en", "kind", "unit", "min", "max", "required", "formula", "act_low", "tol_low", "tol_high", "act_high")


def definition_labels() -> dict[str, str]:
    """Column labels of the definition editors (the editors show labels; the code reads keys back)."""
    from qc.display import column_label

    labels = {k: T(f"set.l_col_{k}") for k in ("key", "label_fr", "label_en", "kind", "unit", "min", "max", "required", "formula")}
    labels.update({k: column_label(k, lang()) for k in ("act_low", "tol_low", "tol_high", "act_high")})
    return labels


def labelled(df: pd.DataFrame) -> pd.DataFrame:
    return df.rename(columns=definition_labels())


def keyed(df: pd.DataFrame) -> pd.DataFrame:
    return df.rename(columns={v: k for k, v in definition_labels().items()})


with tab_l:
    st.markdown(T("set.logged_intro"))
    c1, c2, c3 = st.columns(3)
    key = c1.text_input(T("set.l_key"), key="set_l_key", placeholder="dose_output")
    name_fr = c2.text_input(T("set.l_name_fr"), key="set_l_name_fr")
    name_en = c3.text_input(T("set.l_name_en"), key="set_l_name_en")
    freq = st.selectbox(T("home.col_freq"), FREQUENCIES, format_func=lambda f: T("freq." + f), index=2, key="set_l_freq")
    st.caption(T("set.l_fields_help"))
    default_fields = pd.DataFrame(
        [{"key": "", "label_fr": "", "label_en": "", "kind": "number", "unit": "", "min": None, "max": None, "required": True,
          "act_low": None, "tol_low": None, "tol_high": None, "act_high": None}]
    )
    fields_df = keyed(st.data_editor(
        labelled(default_fields), num_rows="dynamic", key=f"set_l_fields_{lang()}", width="stretch",
        column_config={T("set.l_col_kind"): st.column_config.SelectboxColumn(options=["number", "passfail", "text"], required=True,
                                                                            help=T("set.l_col_kind_help"))},
    ))
    st.caption(T("set.l_derived_help"))
    derived_df = keyed(st.data_editor(
        labelled(pd.DataFrame([{"key": "", "label_fr": "", "label_en": "", "unit": "", "formula": "", "act_low": None, "tol_low": None, "tol_high": None,
                                "act_high": None}])),
        num_rows="dynamic", key=f"set_l_derived_{lang()}", width="stretch",
    ))
    if st.button(T("set.l_save"), key="set_l_save", type="primary"):
        if not user:
            st.error(T("ui.operator_required"))
        else:
            try:
                def tol_of(r) -> Tolerance | None:
                    vals = [None if pd.isna(r.get(k)) else float(r.get(k)) for k in ("act_low", "tol_low", "tol_high", "act_high")]
                    if all(v is None for v in vals):
                        return None
                    return Tolerance(*vals, reference=T("set.l_reference", user=user))

                def opt(v):
                    return None if v is None or pd.isna(v) else float(v)

                fields = [
                    LoggedField(str(r["key"]).strip(), str(r["label_fr"]).strip(), str(r["label_en"] or r["label_fr"]).strip(), kind=r["kind"],
                                unit=str(r["unit"] or ""), min=opt(r["min"]), max=opt(r["max"]), required=bool(r["required"]), tolerance=tol_of(r))
                    for r in fields_df.to_dict("records") if str(r.get("key") or "").strip()
                ]
                derived = [
                    Derived(str(r["key"]).strip(), str(r["label_fr"]).strip(), str(r["label_en"] or r["label_fr"]).strip(), unit=str(r["unit"] or ""),
                            formula=str(r["formula"]).strip(), tolerance=tol_of(r))
                    for r in derived_df.to_dict("records") if str(r.get("key") or "").strip()
                ]
                test_def = LoggedTest(key=key.strip(), name_fr=name_fr.strip(), name_en=(name_en or name_fr).strip(), frequency=freq,
                                      fields=fields, derived=derived, builtin=False)
                save_custom_logged_test(store, test_def, user)
            except (ValueError, SyntaxError) as exc:
                st.error(T("set.l_invalid", error=md_escape(str(exc))))
            else:
                st.success(T("set.l_saved", name=md_escape(test_def.name_fr)))
                st.rerun()

# ------------------------------------------------------------------ users (admin)
with tab_u:
    from qc.records import auth

    if not allowed("users"):
        st.info(T("auth.denied"))
    else:
        st.caption(f"QC_AUTH = {auth.auth_mode()}")
        people = auth.users(store)
        if people:
            st.dataframe(display_frame(pd.DataFrame(people), lang(), ["username", "display_name", "email", "role", "active", "created_at"]),
                         hide_index=True, width="stretch")
        with st.form("set_user_add", clear_on_submit=True):
            st.markdown("**" + T("set.user_add") + "**")
            c1, c2, c3 = st.columns(3)
            u_name = c1.text_input(T("set.user_name"), key="set_u_name")
            u_display = c2.text_input(T("set.user_display"), key="set_u_display")
            u_email = c3.text_input(T("set.user_email"), key="set_u_email")
            c4, c5 = st.columns(2)
            u_role = c4.selectbox(T("set.user_role"), auth.ROLES, format_func=lambda r: T("role." + r), key="set_u_role")
            u_password = c5.text_input(T("set.user_password"), type="password", key="set_u_password")
            if st.form_submit_button(T("set.add")):
                try:
                    auth.add_user(store, u_name, u_display, u_role, u_password or None, email=u_email, by=user)
                except ValueError as exc:
                    st.error(T("set.user_error", error=md_escape(str(exc))))
                else:
                    st.success(T("set.user_saved"))
        if people:
            with st.form("set_user_update"):
                st.markdown("**" + T("set.user_update") + "**")
                who = st.selectbox(T("set.user_name"), [p["username"] for p in people], key="set_uu_name")
                current_role = next(p["role"] for p in people if p["username"] == who)
                c1, c2, c3 = st.columns(3)
                new_role = c1.selectbox(T("set.user_role"), auth.ROLES, index=auth.ROLES.index(current_role),
                                        format_func=lambda r: T("role." + r), key="set_uu_role")
                active = c2.checkbox(T("set.user_active"), value=True, key="set_uu_active")
                new_password = c3.text_input(T("set.user_new_password"), type="password", key="set_uu_password")
                if st.form_submit_button(T("set.save")):
                    try:
                        auth.update_user(store, who, user, role=new_role, active=active, password=new_password or None)
                    except ValueError as exc:
                        st.error(T("set.user_error", error=md_escape(str(exc))))
                    else:
                        st.success(T("set.user_saved"))

# ------------------------------------------------------------------ e-mail alerts (admin; before General, which may stop the page)
with tab_a:
    from pages.alerts_settings import render_alerts_settings

    render_alerts_settings(store, user)

# ------------------------------------------------------------------ general
with tab_g:
    if not allowed("general_settings"):
        st.info(T("auth.denied"))
        st.stop()
    current = store.get_setting("default_lang", "fr")
    choice = st.radio(T("set.default_lang"), ["fr", "en"], index=0 if current == "fr" else 1, horizontal=True,
                      format_func=lambda c: {"fr": "Français", "en": "English"}[c], key="set_default_lang")
    if choice != current and st.button(T("set.save"), key="set_lang_save"):
        store.set_setting("default_lang", choice, user)
        st.rerun()
    from qc.records import backup
    from qc.config import data_dir

    st.caption(T("set.data_dir", path=md_escape(str(data_dir()))))
    st.subheader(T("backup.title"))
    status = backup.scheduler_status()
    if status and status.get("interval_hours"):
        st.caption(T("backup.schedule", hours=status["interval_hours"], days=status.get("keep_days", 0)))
    else:
        st.caption(T("backup.schedule_off"))
    st.caption(T("backup.offsite"))
    if st.button(T("backup.button"), key="set_backup_now", icon=":material/backup:"):
        path = backup.backup_now(store.data_dir)
        st.success(T("backup.done", path=md_escape(str(path)), sessions=sessions_count(store), files=len(list((path / "files").rglob("*")))))
    frame = backup.backups_frame(store.data_dir, lang())
    if frame is not None and len(frame):
        st.dataframe(frame, hide_index=True, width="stretch")
    else:
        st.write(T("backup.none"))
    st.dataframe(display_frame(pd.DataFrame([store.counts()]), lang()), hide_index=True)
