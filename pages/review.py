"""À valider: sessions received and analysed automatically wait here for a physicist, who sees the stored session
(its stored rows, warnings and pictures: never a new analysis of its files) and confirms that very record (it
joins History and the report) or rejects it with a reason; objects that could not be routed or analysed wait
below with why, and can be assigned by hand."""

from pages.common import ensure_navigation

ensure_navigation()

import pandas as pd  # noqa: E402
import streamlit as st  # noqa: E402

from pages.common import T, allowed, arrow_safe, get_store, lang, operator, tests  # noqa: E402
from pages.stored_view import show_stored_session  # noqa: E402
from qc.errors import QCInputError  # noqa: E402
from qc.intake import inbox  # noqa: E402
from qc.intake.refusals import refusal_sentences  # noqa: E402
from qc.registry import get_test  # noqa: E402
from qc.textsafe import md_escape  # noqa: E402

store = get_store()
st.title(T("intake.review.title"))
st.caption(T("intake.review.caption"))
# What the receiver refused for lack of room (size limit, inbox quota): said here, not only in its log.
for sentence in refusal_sentences(store, lang()):
    st.error(sentence, icon=":material/block:")


pending = store.pending_reviews()
if not pending:
    st.info(T("intake.review.none"))
else:
    labels = {
        p["id"]: f"{p['acquired_at'][:16]} — {get_test(p['test'], store).name(lang())} — {p['machine']} — {T('status.' + p['status'])}"
        for p in pending
    }
    chosen = st.selectbox(T("intake.review.title"), list(labels), format_func=lambda i: labels[i], key="review_session")
    row = next(p for p in pending if p["id"] == chosen)
    spec = get_test(row["test"], store)
    show_stored_session(store, store.session(chosen), spec)
    st.divider()
    if allowed("review"):
        c1, c2 = st.columns(2)
        if c1.button(T("intake.review.confirm"), type="primary", key="review_confirm"):
            store.review_session(chosen, confirm=True, user=operator() or "?")
            st.success(T("intake.review.confirmed", session=chosen))
            st.rerun()
        reason = c2.text_input(T("intake.review.reason"), key="review_reason")
        if c2.button(T("intake.review.reject"), key="review_reject"):
            try:
                store.review_session(chosen, confirm=False, user=operator() or "?", reason=reason)
            except QCInputError as exc:
                st.error(md_escape(exc.message(lang())))
            else:
                st.rerun()
    else:
        st.info(T("auth.denied"))

st.header(T("intake.unassigned.title"))
rows = inbox.inbox_rows(store)
if not rows:
    st.caption(T("intake.unassigned.none"))
else:
    frame = pd.DataFrame(
        {
            T("intake.col.received"): [r["received_at"] for r in rows],
            T("intake.col.source"): [r["source"] for r in rows],
            T("intake.col.station"): [r["station_name"] or "—" for r in rows],
            T("intake.col.label"): [r["label"] or "—" for r in rows],
            T("intake.col.state"): [T("intake.state." + r["state"]) for r in rows],
            T("intake.col.reason"): [r["reason"] or "—" for r in rows],
        }
    )
    st.dataframe(arrow_safe(frame), hide_index=True, width="stretch")
    if allowed("review"):
        with st.form("assign"):
            ids = st.multiselect(
                T("intake.assign.objects"), [r["id"] for r in rows],
                format_func=lambda i: next(f"{r['received_at']} {r['label'] or ''}"[:80] for r in rows if r["id"] == i),
            )
            machines = store.machines()
            mid = st.selectbox(T("ui.machine"), [m["id"] for m in machines], format_func=lambda i: store.machine(i)["name"])
            image_tests = [s for s in tests(store) if s.kind == "dicom"]
            test = st.selectbox(T("intake.assign.test"), [s.key for s in image_tests],
                                format_func=lambda k: next(s.name(lang()) for s in image_tests if s.key == k))
            if st.form_submit_button(T("intake.assign.button")) and ids and mid:
                inbox.assign(store, ids, mid, test, operator() or "?")
                inbox.process_inbox(store, lang=lang(), force=True)
                st.rerun()
        with st.form("aside"):
            aside = st.multiselect(
                T("intake.assign.objects"), [r["id"] for r in rows],
                format_func=lambda i: next(f"{r['received_at']} {r['label'] or ''}"[:80] for r in rows if r["id"] == i),
            )
            why = st.text_input(T("intake.aside.reason"))
            sure = st.checkbox(T("intake.aside.confirm"))
            if st.form_submit_button(T("intake.aside.button")) and aside:
                try:
                    if not sure:
                        raise QCInputError("err.confirm_required")
                    inbox.set_aside(store, aside, why, operator() or "?")
                except QCInputError as exc:
                    st.error(md_escape(exc.message(lang())))
                else:
                    st.rerun()

if allowed("general_settings"):
    import json

    with st.expander(T("intake.settings.title")):
        with st.form("intake_settings"):
            rules_text = st.text_area(T("intake.settings.rules"), json.dumps(inbox.routing_rules(store), ensure_ascii=False, indent=1), height=220)
            expected_text = st.text_input(T("intake.settings.expected"), json.dumps(inbox.expected_counts(store)))
            c1, c2 = st.columns(2)
            window = c1.number_input(T("intake.settings.window"), min_value=1.0, value=float(store.get_setting("intake.window_minutes") or inbox.DEFAULT_WINDOW_MINUTES))
            quiet = c2.number_input(T("intake.settings.quiet"), min_value=1.0, value=float(store.get_setting("intake.quiet_minutes") or inbox.DEFAULT_QUIET_MINUTES))
            if st.form_submit_button(T("intake.settings.save")):
                try:
                    try:
                        rules, expected = json.loads(rules_text), json.loads(expected_text)
                    except json.JSONDecodeError as exc:
                        raise QCInputError("intake.err.json", error=str(exc)) from exc
                    inbox.save_settings(store, rules=rules, expected=expected, window_minutes=window, quiet_minutes=quiet, user=operator() or "?")
                except QCInputError as exc:
                    st.error(md_escape(exc.message(lang())))
                else:
                    st.success(T("intake.settings.saved"))
