"""Paramètres › Alertes e-mail: the SMTP server (password kept as a secret), « Envoyer un message d'essai », who
receives which alert (per user, machine and test), and the last sendings with their failures (qc.alerts)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages.common import T, allowed, lang, tests
from qc import alerts
from qc.records import auth
from qc.textsafe import md_escape


def render_alerts_settings(store, user: str) -> None:
    if not allowed("general_settings"):
        st.info(T("auth.denied"))
        return
    st.caption(T("set.alerts.intro"))
    summary = alerts.status_summary(store)
    cfg = alerts.smtp_config(store)
    if summary["configured"]:
        st.success(T("set.alerts.configured", host=md_escape(cfg.host), port=cfg.port), icon=":material/mail:")
    else:
        st.warning(T("alert.not_configured"), icon=":material/mail_off:")
    failure = summary["last_failure"]
    if failure:
        st.error(T("set.alerts.last_failure", at=failure["at"], kind=T(f"alert.kind.{failure['kind']}")), icon=":material/error:")
        st.text(failure["error"])  # the server's words, as plain text
    _server_form(store, user, cfg)
    _test_message(store)
    _subscriptions(store, user)
    _log_table(store)


def _server_form(store, user: str, cfg: alerts.SmtpConfig) -> None:
    st.markdown("**" + T("set.alerts.server") + "**")
    with st.form("set_alerts_server"):
        c1, c2, c3 = st.columns([3, 1, 2])
        host = c1.text_input(T("set.alerts.host"), value=cfg.host, key="set_al_host", placeholder="smtp.hopital.fr")
        port = c2.number_input(T("set.alerts.port"), min_value=1, max_value=65535, value=int(cfg.port), step=1, key="set_al_port")
        security = c3.selectbox(T("set.alerts.security"), alerts.SECURITY, index=alerts.SECURITY.index(cfg.security) if cfg.security in alerts.SECURITY else 0,
                                format_func=lambda s: T(f"set.alerts.security.{s}"), key="set_al_security")
        c4, c5 = st.columns(2)
        username = c4.text_input(T("set.alerts.username"), value=cfg.username, key="set_al_user")
        # Never shown back: the field starts empty; empty keeps the stored password.
        password = c5.text_input(T("set.alerts.password"), value="", type="password", key="set_al_password", help=T("set.alerts.password_help"))
        if alerts.password_is_set(store):
            c5.caption(T("set.alerts.password_set"))
        erase = c5.checkbox(T("set.alerts.password_erase"), key="set_al_password_erase") if alerts.password_is_set(store) else False
        c6, c7, c8 = st.columns([2, 2, 1])
        sender = c6.text_input(T("set.alerts.sender"), value=cfg.sender, key="set_al_sender", placeholder="cq-mrlinac@hopital.fr")
        cafile = c7.text_input(T("set.alerts.cafile"), value=cfg.cafile, key="set_al_cafile")
        hours = c8.number_input(T("set.alerts.review_hours"), min_value=1.0, value=float(alerts.review_hours(store)), step=1.0, key="set_al_hours")
        if st.form_submit_button(T("set.save")):
            if not user:
                st.error(T("ui.operator_required"))
                return
            try:
                alerts.save_smtp_settings(store, user, host=host, port=int(port), security=security, username=username, sender=sender,
                                          cafile=cafile, review_hours=hours, password="" if erase else (password or None))
            except ValueError as exc:
                st.error(T("set.alerts.error", error=md_escape(str(exc))))
            else:
                st.session_state.pop("set_al_password", None)  # the typed password leaves the page too
                st.rerun()


def _test_message(store) -> None:
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    to = c1.text_input(T("set.alerts.test_to"), key="set_al_test_to")
    if c2.button(T("set.alerts.test_button"), key="set_al_test", icon=":material/send:", disabled=not to.strip()):
        ok, error = alerts.send_test_message(store, to, lang())
        if ok:
            st.success(T("set.alerts.test_ok"))
        else:
            st.error(T("set.alerts.test_failed"))
            st.text(error)


def _subscriptions(store, user: str) -> None:
    st.markdown("**" + T("set.alerts.subscriptions") + "**")
    subs = alerts.subscriptions(store)
    specs = tests(store)
    names = {s.key: s.name(lang()) for s in specs}
    if subs:
        frame = pd.DataFrame([{
            T("set.alerts.col.user"): s["display_name"] or s["username"],
            T("set.alerts.col.email"): s["email"] or "—",
            T("set.alerts.kind"): T(f"alert.kind.{s['kind']}"),
            T("set.alerts.col.machine"): s["machine"] or T("set.all_machines"),
            T("set.alerts.col.test"): names.get(s["test"], s["test"]) if s["test"] else T("set.alerts.all_tests"),
        } for s in subs])
        st.dataframe(frame, hide_index=True, width="stretch")
    else:
        st.caption(T("set.alerts.no_subscription"))
    people = [p for p in auth.users(store) if p.get("email") and p.get("active")]
    if not people:
        st.info(T("set.alerts.no_email_users"))
        return
    with st.form("set_alerts_subscribe", clear_on_submit=True):
        c1, c2, c3, c4 = st.columns(4)
        who = c1.selectbox(T("set.alerts.user"), people, format_func=lambda p: f"{p['display_name']} <{p['email']}>", key="set_al_sub_user")
        kind = c2.selectbox(T("set.alerts.kind"), alerts.KINDS, format_func=lambda k: T(f"alert.kind.{k}"), key="set_al_sub_kind")
        machine = c3.selectbox(T("ui.machine"), [None] + store.machines(), format_func=lambda m: T("set.all_machines") if m is None else m["name"],
                               key="set_al_sub_machine")
        test = c4.selectbox(T("hist.test"), [""] + [s.key for s in specs], format_func=lambda k: names.get(k, T("set.alerts.all_tests")),
                            key="set_al_sub_test")
        if st.form_submit_button(T("set.alerts.subscribe")):
            alerts.subscribe(store, who["id"], kind, machine_id=machine["id"] if machine else None, test=test, by=user)
            st.rerun()
    if subs:
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        gone = c1.selectbox(T("set.alerts.unsubscribe"), subs, key="set_al_unsub",
                            format_func=lambda s: f"{s['display_name'] or s['username']} — {T('alert.kind.' + s['kind'])} — "
                                                  f"{s['machine'] or T('set.all_machines')} — {names.get(s['test'], T('set.alerts.all_tests')) if s['test'] else T('set.alerts.all_tests')}")
        if c2.button(T("set.alerts.unsubscribe"), key="set_al_unsub_btn"):
            alerts.unsubscribe(store, gone["id"], by=user)
            st.rerun()


def _log_table(store) -> None:
    rows = alerts.alert_log(store, 50)
    if not rows:
        return
    with st.expander(T("set.alerts.log")):
        st.dataframe(pd.DataFrame([{
            T("set.alerts.col.at"): r["at"],
            T("set.alerts.col.kind"): T(f"alert.kind.{r['kind']}"),
            T("set.alerts.col.session"): "" if r["session_id"] is None else str(r["session_id"]),
            T("set.alerts.col.recipients"): r["recipients"],
            T("set.alerts.col.outcome"): T(f"alert.outcome.{r['outcome']}"),
            T("set.alerts.col.error"): r["error"] or "",
        } for r in rows]), hide_index=True, width="stretch")
