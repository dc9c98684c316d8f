"""The « Importer un historique (CSV, Excel) » expander of a logged test's page (not a page of its own).

`import_expander` draws it (template download, upload); `show_plan` is what the page shows for one
uploaded file — the preview of every row with its derived values and verdict, the problems, the
duplicate question and the « Enregistrer N entrées » button. The reading, checking, judging and
storing are `qc.intake.history_import`'s (the CLI `python -m qc import` calls the same functions).
"""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from pages.common import STATUS_BG, T, lang, operator
from qc.display import column_label, fmt_cell, fmt_datetime, status_word
from qc.errors import QCInputError
from qc.intake import history_import as li
from qc.records.sessions import record_state_mark
from qc.textsafe import md_escape

MAX_SHOWN_ERRORS = 50
MAX_SHOWN_NOTES = 10


def preview_frame(plan: li.ImportPlan, language: str) -> pd.DataFrame:
    """One row per entry: line, date, each field and derived value (labelled by qc.display), the verdict,
    operator, comment and duplicate remark; `_status` keeps the code for the row colour."""
    spec = plan.spec
    test = spec.definition
    # Numbers and verdicts, then the values derived from them, then free text (long) last.
    keys = [f.key for f in test.fields if f.kind != "text"] + [d.key for d in test.derived] + [f.key for f in test.fields if f.kind == "text"]
    kinds = {f.key: f.kind for f in test.fields}
    rows = []
    for r in plan.rows:
        res = r.analysis.result
        values = {m.name: m.value for m in res.measurements}
        texts = res.params.get("texts", {})
        row = {t_("imp.col.line", language): str(r.line), t_("imp.col.date", language): fmt_datetime(r.acquired_at),
               t_("imp.col.status", language): status_word(r.status, language, icon=True),
               t_("imp.col.duplicate", language): r.duplicate}
        for k in keys:
            label = column_label(k, language, spec) if kinds.get(k) != "text" else _field_label(test, k, language)
            if kinds.get(k) == "text":
                row[label] = texts.get(k, "")
            elif kinds.get(k) == "passfail":
                v = values.get(k)
                row[label] = "" if v is None else status_word("pass" if v else "fail", language)
            else:
                row[label] = fmt_cell(values.get(k), language)
        code = "unmeasured" if any(j.not_measured for j in r.analysis.judged) and r.status == "fail" else r.status
        row[t_("imp.col.operator", language)] = r.operator
        row[t_("imp.col.comment", language)] = r.comment
        row["_status"] = code
        rows.append(row)
    df = pd.DataFrame(rows)
    # The verdict comes right after the date (visible without scrolling); columns empty on every row
    # (no operator, comment or duplicate in the file) are left out.
    optional = [t_(k, language) for k in ("imp.col.operator", "imp.col.comment", "imp.col.duplicate")]
    return df.drop(columns=[c for c in optional if c in df and not df[c].astype(str).str.strip().any()])


def t_(key: str, language: str, **params) -> str:
    from qc.i18n import t

    return t(key, language, **params)


def _field_label(test, key: str, language: str) -> str:
    return next((f.label(language) for f in test.fields if f.key == key), key)


def _styled(df: pd.DataFrame):
    statuses = df["_status"]
    shown = df.drop(columns=["_status"])
    return shown.style.apply(lambda row: [f"background-color: {STATUS_BG.get(statuses[row.name], '#ffffff')}"] * len(row), axis=1)


def show_plan(store, spec, machine: dict, name: str, data: bytes) -> list[int] | None:
    """Preview one uploaded file and, on the button, store it (all rows or none). Returns the stored ids."""
    key = spec.key
    digest = hashlib.sha256(data).hexdigest()[:16]
    done_key = f"imp_{key}_done_{digest}_{machine['id']}"
    if st.session_state.get(done_key):  # this file is stored: say so, do not offer it again as duplicates
        stored, n_rows = st.session_state[done_key]
        st.success(T("imp.ui.stored", n=len(stored), first=stored[0], last=stored[-1], skipped=n_rows - len(stored)))
        return stored
    # The plan (every row checked and judged: seconds for thousands of rows) is kept across reruns of
    # the page while the file, the machine, the language, the stored sessions and tolerances are the same.
    cache_key = (key, machine["id"], digest, lang(), record_state_mark(store))
    cached = st.session_state.get(f"imp_{key}_plan")
    if cached is not None and cached[0] == cache_key:
        plan = cached[1]
    else:
        try:
            plan = li.plan_import(store, spec, machine, name, data, lang=lang())
        except QCInputError as exc:
            st.error(md_escape(exc.message(lang())), icon=":material/error:")
            return None
        st.session_state[f"imp_{key}_plan"] = (cache_key, plan)
    counts = plan.counts()
    if plan.rows:
        st.markdown(md_escape(T("imp.ui.summary", n=len(plan.rows), file=name, machine=machine["name"],
                                passed=counts.get("pass", 0), warned=counts.get("warning", 0), failed=counts.get("fail", 0))))
    if plan.notes:
        shown = plan.notes[:MAX_SHOWN_NOTES]
        st.info("\n".join(f"- {md_escape(n)}" for n in shown) + ("\n- …" if len(plan.notes) > len(shown) else ""), icon=":material/info:")
    if plan.errors:
        st.error(T("imp.ui.errors", n=len(plan.errors)), icon=":material/error:")
        shown = plan.errors[:MAX_SHOWN_ERRORS]
        st.markdown("\n".join(f"- {md_escape(e)}" for e in shown) + ("\n- …" if len(plan.errors) > len(shown) else ""))
    if plan.rows:
        st.dataframe(_styled(preview_frame(plan, lang())), hide_index=True, width="stretch")
    if not plan.ok:
        return None
    skip = False
    if plan.duplicates:
        lines = ", ".join(str(r.line) for r in plan.duplicates[:20]) + (", …" if len(plan.duplicates) > 20 else "")
        st.warning(T("imp.ui.duplicates", n=len(plan.duplicates), lines=lines), icon=":material/content_copy:")
        skip = st.checkbox(T("imp.ui.skip_duplicates", n=len(plan.duplicates)), key=f"imp_{key}_skip_{digest}")
    n = len(plan.to_store(True))  # what is stored once the duplicates are confirmed skipped
    stored = None
    if st.button(T("imp.ui.store_one") if n == 1 else T("imp.ui.store", n=n), key=f"imp_{key}_store_{digest}", type="primary",
                 disabled=n == 0 or (bool(plan.duplicates) and not skip)):
        if not operator():
            st.error(T("ui.operator_required"))
        else:
            try:
                stored = li.store_import(store, plan, user=operator(), skip_duplicates=skip)
                st.session_state[done_key] = (stored, len(plan.rows))
            except QCInputError as exc:
                st.error(md_escape(exc.message(lang())), icon=":material/error:")
    if stored:
        st.success(T("imp.ui.stored", n=len(stored), first=stored[0], last=stored[-1], skipped=len(plan.rows) - len(stored)))
    return stored


def import_expander(store, spec, machine: dict | None) -> None:
    """The expander on each logged test's page: format help, template download, upload and preview."""
    key = spec.key
    with st.expander(T("imp.ui.expander"), icon=":material/upload_file:"):
        st.caption(T("imp.ui.help"))
        st.download_button(T("imp.ui.template"), data=li.template_bytes(spec, lang()), file_name=f"modele_{key}.csv" if lang() == "fr" else f"template_{key}.csv",
                           mime="text/csv", key=f"imp_{key}_template", icon=":material/download:")
        up = st.file_uploader(T("imp.ui.upload"), type=["csv", "txt", "xlsx"], key=f"imp_{key}_file", max_upload_size=li.MAX_IMPORT_BYTES // 1024**2)
        if up is None or machine is None:
            return
        if up.size > li.MAX_IMPORT_BYTES:
            st.error(md_escape(li._too_large(up.name, up.size).message(lang())), icon=":material/error:")
            return
        show_plan(store, spec, machine, up.name, up.getvalue())
