"""The review-and-signature block of a session (History's session detail): its signature in force and the earlier
ones, the form to mark it « Relu » or « Approuvé » (password typed again when authentication is on), and the
reviewer's notes on one metric or item. The rule is in qc.records.signatures."""

from __future__ import annotations

import streamlit as st

from pages.common import T, allowed, client_address, current_user, lang, operator
from qc.errors import QCInputError
from qc.records import auth, signatures
from qc.textsafe import md_escape


def _leaf_label(metric: str, item: str, spec) -> str:
    m = spec.metric(metric) if spec is not None else None
    name = m.label(lang()) if m is not None else metric
    return f"{name} [{item}]" if item else name


def render_signature_block(store, s: dict, spec) -> None:
    session_id = s["id"]
    st.markdown("**" + T("sig.title") + "**")
    rows = signatures.signatures(store, session_id)
    current = rows[-1] if rows else None
    text = signatures.signature_text(current, lang())
    if current is None:
        st.info(md_escape(text), icon=":material/draw:")
    elif current["kind"] == "approved":
        st.success(md_escape(text), icon=":material/verified:")
    else:
        st.info(md_escape(text), icon=":material/task_alt:")
    if current is not None and current["comment"]:
        st.text(T("sig.comment_shown", text=current["comment"]))  # user text, shown as typed (st.text: never markdown)
    if len(rows) > 1:
        with st.expander(T("sig.history")):
            for r in reversed(rows[:-1]):
                st.text(f"{signatures.signature_text(r, lang())} — {T('sig.superseded')}" + (f" — {r['comment']}" if r["comment"] else ""))
    if not s["voided"] and s.get("review_state") != "pending" and allowed("sign"):
        mode = auth.auth_mode()
        with st.form(key=f"sig_form_{session_id}", clear_on_submit=True):
            kind = st.radio(T("sig.kind_choice"), signatures.KINDS, format_func=lambda k: T(f"sig.kind.{k}"), horizontal=True,
                            key=f"sig_kind_{session_id}")
            comment = st.text_input(T("sig.comment"), key=f"sig_comment_{session_id}")
            if mode == "off":
                st.caption(T("sig.name_off", name=md_escape(operator() or "—")))
                password = ""
            else:
                password = st.text_input(T("sig.password"), type="password", key=f"sig_password_{session_id}")
            if current is not None:
                st.caption(T("sig.supersede_note"))
            if st.form_submit_button(T("sig.sign_button"), type="primary"):
                try:
                    gid, reason = signatures.sign(store, session_id, kind, user=current_user() if mode != "off" else None,
                                                  typed_name=operator(), password=password, comment=comment, address=client_address())
                except QCInputError as exc:
                    st.error(md_escape(exc.message(lang())))
                else:
                    if gid is None:
                        st.session_state["_sig_refused"] = (session_id, reason)
                    else:
                        st.session_state.pop("_sig_refused", None)
                    st.rerun()
        refused = st.session_state.get("_sig_refused")
        if refused and refused[0] == session_id:
            st.error(T(f"sig.refused.{refused[1]}"))
    _leaf_notes(store, s, spec)


def _leaf_notes(store, s: dict, spec) -> None:
    notes = signatures.leaf_comments(store, s["id"])
    leaves = list(dict.fromkeys((m["name"], m["item"] or "") for m in s["metrics"]))
    if not notes and not leaves:
        return
    st.markdown("**" + T("sig.leaf_title") + "**")
    for n in notes:
        st.text(T("sig.leaf_line", at=n["at"], user=n["user"], leaf=_leaf_label(n["metric"], n["item"], spec), text=n["text"]))
    if not leaves or s["voided"] or not allowed("comment"):
        return
    with st.form(key=f"sig_leaf_form_{s['id']}", clear_on_submit=True):
        leaf = st.selectbox(T("sig.leaf_choice"), leaves, format_func=lambda x: _leaf_label(x[0], x[1], spec), key=f"sig_leaf_{s['id']}")
        text = st.text_input(T("sig.leaf_text"), key=f"sig_leaf_text_{s['id']}")
        if st.form_submit_button(T("sig.leaf_add")):
            if not operator():
                st.error(T("ui.operator_required"))
            else:
                try:
                    signatures.add_leaf_comment(store, s["id"], leaf[0], leaf[1], text, operator())
                except QCInputError as exc:
                    st.error(md_escape(exc.message(lang())))
                else:
                    st.rerun()


HOME_LIMIT = 10


def render_awaiting(store, specs) -> None:
    """Home: the results that wait for a signature (newest first, the first HOME_LIMIT with a link to each)."""
    n = signatures.count_awaiting_signature(store)
    if not n:
        return
    from qc.display import fmt_datetime, status_word

    names = {s.key: s.name(lang()) for s in specs}
    with st.expander(T("home.sig.waiting", n=n), icon=":material/draw:"):
        for r in signatures.awaiting_signature(store, HOME_LIMIT):
            label = (f"{T('home.sig.open', session=r['id'])} — {md_escape(names.get(r['test'], r['test']))} — {md_escape(r['machine'])} — "
                     f"{fmt_datetime(r['acquired_at'])} — {status_word(r['status'], lang(), icon=True)}")
            st.page_link("pages/history.py", label=label, icon=":material/arrow_forward:", query_params={"session": str(r["id"])})
        if n > HOME_LIMIT:
            st.caption(T("home.sig.more", n=n - HOME_LIMIT))
