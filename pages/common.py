"""Shared UI pieces of the pages (not a page itself): store per session, language, operator,
machine choice, result display, the save block of the one page flow (`pages/flow.py`) and the error guard.

Pages only gather input, call `qc`, show the result and store it; all numbers come from `qc`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import sqlite3
import threading
import traceback
from pathlib import Path
from typing import Callable

import pandas as pd
import streamlit as st

from qc import pipeline
from qc.errors import DuplicateUploadError, QCInputError
from qc.i18n import DEFAULT_LANG, LANGUAGES, t
from qc.registry import TestSpec, all_tests
from qc.records.storage import Store
from qc.textsafe import md_escape

STATUS_BG = {"pass": "#e8f5e9", "warning": "#fff8e1", "fail": "#ffebee", "none": "#eceff1", "unmeasured": "#ffebee"}
# The status words and icons shown everywhere come from qc.display (one place for pages, CSV and PDF).
from qc.display import STATUS_ICON, fmt_bounds, fmt_cell, items_frame, status_word  # noqa: E402
PAGE_ICONS = {"dicom": ":material/image:", "report": ":material/description:", "logged": ":material/edit_note:"}


# ------------------------------------------------------------------ session basics


_frame = threading.local()


def ensure_navigation() -> None:
    """Make a direct link to a page file (e.g. /history) open inside the app frame (the tests' pages are functions,
    never run this way: see docs/architecture.md, "How a page is made").

    Streamlit treats a folder named `pages/` as legacy multipage mode until some session has run
    `st.navigation`, and then runs a page file whose name matches the URL without app.py (on a
    fresh server, and in AppTest on every run). Each page calls this first: when app.py is not
    running around it, it switches the server to st.navigation mode and runs app.py here, in the
    same script run (widget events are kept), which shows this page inside the frame; then stops.
    """
    if getattr(_frame, "active", False):
        return
    import runpy

    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False
    runpy.run_path(str(Path(__file__).resolve().parent.parent / "app.py"))
    st.stop()


@contextlib.contextmanager
def as_app_frame():
    """Create widgets with the identity they have when app.py runs as the main script.

    Streamlit mixes the running page's hash into widget ids; in the legacy first run of a fresh
    server app.py runs under another page's hash, and the operator name typed there would be
    forgotten at the next run. Under the main script's hash the sidebar widgets keep one id.
    """
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:
        yield
        return
    with ctx.run_with_active_hash(ctx.pages_manager.main_script_hash):
        yield


def run_in_frame(nav) -> None:
    """Run the selected page with the frame marked active (see `ensure_navigation`)."""
    _frame.active = True
    try:
        run_guarded(nav.run)
    finally:
        _frame.active = False


_last_lang = DEFAULT_LANG


def lang() -> str:
    """The user's language. Outside a script run (AppTest reading widget labels back) session state
    is not reachable, so the language of the last run in this process is used."""
    global _last_lang
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx() is None:
        return _last_lang
    _last_lang = st.session_state.get("lang", DEFAULT_LANG)
    return _last_lang


def T(key: str, **params) -> str:
    return t(key, lang(), **params)


def _css_text(text: str) -> str:
    """`text` as a CSS string literal (quotes and backslashes escaped, no line break)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def session_uploader(label: str, types: list[str], key: str):
    """The file uploader of every image test, in the user's language.

    Streamlit draws its own English words inside the drop zone (« Upload », « 200MB per file »); there is no
    option to translate them, so the uploader's container (class `st-key-<key>`) gets a small style that hides
    them and writes the French (or English) text in their place, with the limits that really apply: the
    server's upload limit per file, and the per-image and per-upload limits of `qc.readers.dicom_io`.
    """
    from qc.readers.dicom_io import MAX_FILE_BYTES, MAX_TOTAL_BYTES

    upload_mb = int(st.get_option("server.maxUploadSize"))
    shown = ", ".join(x.upper() for x in types)
    limits = T("ui.upload_limits", types=shown, image_mb=MAX_FILE_BYTES // 1024**2, file_mb=upload_mb, total_mb=MAX_TOTAL_BYTES // 1024**2)
    scope = f".st-key-{key}"
    st.html(
        "<style>"
        f'{scope} [data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p {{font-size:0}}'
        f'{scope} [data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p::after'
        f"{{content:{_css_text(T('ui.upload_button'))};font-size:0.875rem}}"
        f'{scope} [data-testid="stFileUploaderDropzoneInstructions"] span {{font-size:0}}'
        f'{scope} [data-testid="stFileUploaderDropzoneInstructions"] span::after'
        f"{{content:{_css_text(limits)};font-size:0.875rem}}"
        "</style>"
    )
    return st.file_uploader(label, accept_multiple_files=True, key=key, help=limits)


def get_store() -> Store:
    """One store (SQLite connection) per browser session; the demo is built when no database exists."""
    from qc.config import data_dir, db_path

    path = str(data_dir())
    store = st.session_state.get("_store")
    if store is None or str(store.data_dir) != path:
        if not db_path().exists() and os.environ.get("QC_NO_DEMO", "") != "1":
            from qc.demo import build_demo

            # The logged history now (≈ 1 s), the image sessions in a background process (see demo_banner).
            with st.spinner(t("ui.building_demo", lang())):
                build_demo(images="later")
        from qc.records.backup import start_scheduled_backups
        from qc.records.storage import open_store

        store = open_store()
        st.session_state["_store"] = store
        if store.get_setting("demo") == "1":
            from qc.demo import start_demo_completion

            start_demo_completion(store.data_dir)  # resumes an image build interrupted when the app was closed
        # One backup thread per server process (idempotent), per QC_BACKUP_INTERVAL_HOURS.
        start_scheduled_backups(store.data_dir)
        # The DICOM receiver beside the server when QC_RECEIVER_PORT is set (idempotent).
        from qc.intake.receiver import start_configured_receiver

        start_configured_receiver(store.data_dir)
    return store


def tests(store: Store) -> list[TestSpec]:
    return all_tests(store)


def current_user() -> dict | None:
    """The logged-in user ({username, display_name, role}); without authentication, the typed
    operator name with every right (the local single-user run)."""
    from qc.records.auth import auth_mode

    if auth_mode() == "off":
        name = (st.session_state.get("operator") or "").strip()
        return {"username": name, "display_name": name, "role": "admin"}
    return st.session_state.get("auth_user")


def operator() -> str:
    """The name recorded on sessions and in the audit log: the logged-in user, else the typed name."""
    user = current_user()
    return (user or {}).get("display_name", "") or ""


def allowed(permission: str) -> bool:
    from qc.records.auth import can

    user = current_user()
    return user is not None and can(user["role"], permission)


def require(permission: str) -> None:
    """Stop the page with a clear message when the user's role lacks the permission."""
    if not allowed(permission):
        st.error(T("auth.denied"))
        st.stop()


def _revalidate_session(store: Store) -> None:
    """Re-read the logged-in user from the database (every page run): deactivated, deleted or
    password changed → logged out now; role or name changed → applied now."""
    from qc.records import auth

    if auth.auth_mode() == "off" or not st.session_state.get("auth_user"):
        return
    fresh = auth.revalidate(store, st.session_state["auth_user"])
    if fresh is None:
        st.session_state.pop("auth_user", None)
        st.session_state["_auth_ended"] = True
    else:
        st.session_state["auth_user"] = fresh


def client_address() -> str:
    """The browser's network address as the server sees it ("" for localhost or AppTest)."""
    try:
        return str(st.context.ip_address or "")
    except Exception:  # no client context (AppTest, bare script run)
        return ""


def login_gate(store: Store, register_pages=None) -> None:
    """With authentication on, nothing but the login shows until the user is known.

    `register_pages` (called before the page stops) lets app.py declare its navigation without running a page."""
    from qc.records import auth

    mode = auth.auth_mode()
    _revalidate_session(store)
    if mode == "off" or st.session_state.get("auth_user"):
        return
    st.title("MR-Linac QC")
    if st.session_state.pop("_auth_ended", False):
        st.warning(T("auth.session_ended"))
    if mode == "oidc":
        if not getattr(st.user, "is_logged_in", False):
            st.button(T("auth.login_sso"), on_click=st.login, key="auth_sso", type="primary")
            _stop(register_pages)
        user = auth.user_by_email(store, str(st.user.get("email", "")))
        if user is None:
            st.error(T("auth.unknown_sso", email=md_escape(str(st.user.get("email", "")))))
            st.button(T("auth.logout"), on_click=st.logout, key="auth_sso_out")
            _stop(register_pages)
        st.session_state["auth_user"] = user
        st.rerun()
    with st.form("auth_login"):
        username = st.text_input(T("auth.username"), key="auth_username")
        password = st.text_input(T("auth.password"), type="password", key="auth_password")
        submitted = st.form_submit_button(T("auth.login"), type="primary")
    if submitted:
        user, reason = auth.authenticate(store, username, password, client_address())
        if user is None:
            if reason == "throttled":
                st.error(T("auth.throttled", seconds=max(1, auth.retry_after(store, username, client_address()))))
            elif reason == "busy":
                st.warning(T("auth.busy", seconds=auth.busy_retry_s()))
            else:
                st.error(T("auth.wrong"))
        else:
            st.session_state["auth_user"] = user
            st.rerun()
    _stop(register_pages)


def _stop(register_pages) -> None:
    if register_pages is not None:
        register_pages()
    st.stop()


def sidebar(store: Store) -> None:
    from qc.records.auth import auth_mode

    with st.sidebar:
        current = st.session_state.get("lang", store.get_setting("default_lang", DEFAULT_LANG))
        st.session_state.setdefault("lang", current)
        st.selectbox(
            "Langue / Language",
            LANGUAGES,
            format_func=lambda code: {"fr": "Français", "en": "English"}[code],
            key="lang",
        )
        if auth_mode() == "off":
            st.text_input(T("ui.operator"), key="operator", placeholder=T("ui.operator_placeholder"))
            return
        _revalidate_session(store)
        user = current_user()
        if user:
            # st.text, never markdown: names come from users and are shown as typed.
            st.text(T("auth.logged_in", name=user["display_name"], role=T("role." + user["role"])))
            if st.button(T("auth.logout"), key="auth_logout"):
                st.session_state.pop("auth_user", None)
                if auth_mode() == "oidc":
                    st.logout()
                st.rerun()


def short_title(title: str) -> str:
    """A test's name without its family prefix, under its study page (« IRM MR-Linac : B1 (double angle) » → « B1
    (double angle) », « IRM — uniformité » → « Uniformité »)."""
    for sep in (" : ", ": ", " — "):
        if sep in title:
            rest = title.split(sep, 1)[1].strip()
            return rest[:1].upper() + rest[1:]
    return title


def draw_menu(sections: list[tuple[str, list]], current) -> None:
    """The sidebar menu: each section's title, then its pages as links; an entry (study page, tests) shows the
    study page with its tests in a fold under it, open when one of them is the current page."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx() is None:
        # app.py run bare (no Streamlit runtime: a spawned worker process re-running the main script): no menu to draw,
        # and a page's url_path is not set before st.navigation has run in a session.
        return
    here = getattr(current, "url_path", None)
    for title, entries in sections:
        if not entries:
            continue
        st.caption(title)
        for entry in entries:
            if isinstance(entry, tuple):
                study, subs = entry
                st.page_link(study)
                with st.expander(T("nav.tests_of_study", n=len(subs)), expanded=any(p.url_path == here for p in subs)):
                    for sub in subs:
                        st.page_link(sub, label=short_title(sub.title))
            else:
                st.page_link(entry)


def page_for(spec: TestSpec) -> st.Page:
    """The navigation page of a test, made from the registry: an image/report test's page is the one page flow
    (`pages.flow.test_page`) called with its key, under its key as URL; logged tests share one file under
    `log_<key>`. Made at each run for this session (st.navigation mutates its pages: never shared between sessions);
    a function page costs no path resolution (a file page does, in every run of every session)."""
    if spec.kind == "logged":
        return st.Page("pages/logged.py", title=spec.name(lang()), icon=PAGE_ICONS["logged"], url_path=f"log_{spec.key}")
    return st.Page(flow_page(spec.key), title=spec.name(lang()), icon=PAGE_ICONS[spec.kind], url_path=spec.key)


def flow_page(key: str) -> Callable[[], None]:
    """The page function of the image/report test `key`: the one flow with that test (`flow_key` names it, for the
    test that checks every image test's page goes through the flow)."""

    def page() -> None:
        from pages.flow import test_page

        test_page(key)

    page.__name__ = "test_" + key.replace("-", "_")
    page.flow_key = key  # type: ignore[attr-defined]
    return page


def remember_pages(pages: list) -> None:
    """The pages of this run, by URL, for the links between pages drawn by page functions (`page_of`)."""
    _frame.pages = {p.url_path: p for p in pages}


def page_of(url_path: str):
    """The page of this run registered under `url_path` (None outside the app's navigation)."""
    return (getattr(_frame, "pages", None) or {}).get(url_path)


def set_current_page(nav, specs: list[TestSpec]) -> None:
    """Tell the shared logged-test page which test it shows (from the URL of the current page)."""
    url = getattr(nav, "url_path", "") or ""
    if url.startswith("log_"):
        st.session_state["_logged_test"] = url[len("log_") :]


def demo_banner(store: Store) -> None:
    if store.get_setting("demo") == "1":
        st.info(T("ui.demo_banner"), icon=":material/science:")
        from qc.demo import demo_complete

        if not demo_complete(store.data_dir):
            demo_progress_note(str(store.data_dir))


@st.fragment(run_every=5)
def demo_progress_note(data_dir: str) -> None:
    """While the demo's image sessions are built in the background: how many are in, refreshed every 5 s;
    the page is drawn again once they all are."""
    from qc.demo import demo_latest_in, demo_progress

    done, total = demo_progress(data_dir) or (0, 0)
    # Drawn again twice: once every test has its newest session (Home complete), and at the end (the history).
    latest_in = demo_latest_in(data_dir)
    if done >= total or (latest_in and not st.session_state.get("_demo_latest_shown")):
        st.session_state["_demo_latest_shown"] = latest_in
        st.rerun()
    st.caption(T("ui.demo_completing", done=done, total=total))


def run_guarded(fn: Callable[[], None]) -> None:
    """Run a page; an unexpected error shows an error box and the rest of the app keeps working."""
    try:
        fn()
    except QCInputError as exc:
        st.error(md_escape(exc.message(lang())))
    except (OSError, sqlite3.OperationalError) as exc:  # disk full, read-only folder, database busy
        from qc.records.storage import database_error, disk_error

        st.error(md_escape((disk_error(exc) if isinstance(exc, OSError) else database_error(exc)).message(lang())))
    except Exception as exc:  # a page bug must not take the app down (st.stop/st.rerun are BaseException)
        st.error(T("ui.page_error", error=md_escape(f"{type(exc).__name__}: {exc}")))
        with st.expander(T("ui.details")):
            st.code(traceback.format_exc())


def machine_selector(store: Store, key: str, default_identity: tuple[str, str] | None = None) -> dict | None:
    machines = store.machines()
    if not machines:
        st.warning(T("ui.no_machine"))
        return None
    index = 0
    if default_identity:
        m = store.machine_for_identity(*default_identity)
        if m is not None:
            index = [x["id"] for x in machines].index(m["id"])
    chosen = st.selectbox(T("ui.machine"), machines, index=index, format_func=lambda m: m["name"], key=key)
    return chosen


# ------------------------------------------------------------------ result display


def judged_frame(analysis: pipeline.Analysis) -> pd.DataFrame:
    """The judged metrics of an analysis, labelled and formatted (qc.display); `_status` keeps the
    code for the row colour ("unmeasured" when a judged value is missing)."""
    spec = analysis.spec
    rows = []
    for j in analysis.judged:
        m = spec.metric(j.name)
        code = "unmeasured" if j.status == "fail" and j.value is None else j.status
        rows.append(
            {
                T("ui.col_item"): j.item or "",
                T("ui.col_metric"): m.label(lang()) if m else j.name,
                T("ui.col_value"): "—" if j.value is None else fmt_cell(j.value, lang()),
                T("ui.col_unit"): j.unit or "",
                T("ui.col_nominal"): fmt_cell(j.nominal, lang()),
                T("ui.col_limits"): fmt_bounds(j.bounds, j.unit, lang()),
                T("ui.col_status"): status_word(j.status, lang(), j.value, icon=True),
                "_status": code,
            }
        )
    return pd.DataFrame(rows)


SEVERITY = {"fail": 0, "unmeasured": 0, "warning": 1, "pass": 2, "none": 3}


def style_status(df: pd.DataFrame):
    """Failing rows first, each row coloured by its status (cells are already text, see qc.display)."""
    df = df.sort_values("_status", key=lambda s: s.map(SEVERITY), kind="stable").reset_index(drop=True)
    statuses = df["_status"]
    shown = df.drop(columns=["_status"])
    return shown.style.apply(lambda row: [f"background-color: {STATUS_BG.get(statuses[row.name], '#ffffff')}"] * len(row), axis=1)


def arrow_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Every cell as display text (qc.display.fmt_cell): no `None`/`nan`, sensible decimals."""
    return df.map(lambda v: fmt_cell(v, lang())) if not df.empty else df


def show_status(status: str) -> None:
    text = f"{STATUS_ICON[status]} {T('ui.overall')} : {T('status.' + status)}"
    {"pass": st.success, "warning": st.warning, "fail": st.error}.get(status, st.info)(text)


# ------------------------------------------------------------------ the verdict first (study pages)

STATUS_COLOUR = {"pass": "green", "warning": "orange", "fail": "red", "unmeasured": "red", "none": "gray"}


def worst_status(statuses: list[str]) -> str:
    """The verdict of a session of several measures: the worst judged one ("none" only when none is judged)."""
    judged = [s for s in statuses if s != "none"]
    return min(judged, key=lambda s: SEVERITY.get(s, 0)) if judged else "none"


def verdict_summary(verdicts: list[tuple[str, str]], not_applicable: list[tuple[str, str]] = ()) -> None:
    """The verdict first: the session's verdict (the worst measure's), then each measure's verdict word in its
    colour, in the order the measures are shown below, then the measures that do not apply in one short line
    (their reasons folded under it)."""
    overall = worst_status([status for _, status in verdicts])
    with st.container(border=True, key="verdict_summary"):
        text = f"{STATUS_ICON[overall]} {T('verdict.session', status=T('status.' + overall))}"
        {"pass": st.success, "warning": st.warning, "fail": st.error}.get(overall, st.info)(text)
        if verdicts:
            lines = [f"- {md_escape(name)} : :{STATUS_COLOUR.get(status, 'gray')}[**{status_word(status, lang(), icon=True)}**]" for name, status in verdicts]
            st.markdown(T("verdict.per_measure") + "\n" + "\n".join(lines))
        if not_applicable:
            with st.expander(T("verdict.not_applicable", measures=", ".join(name for name, _ in not_applicable)), icon=":material/block:"):
                for name, why in not_applicable:
                    st.caption(md_escape(f"{name} : {why}"))


def show_warnings(warnings: list[str]) -> None:
    """An analysis's warnings: one is shown as it is; several are grouped in one folded box whose title
    gives their count (« 9 avertissements »), so they do not push the verdict and the table down."""
    if len(warnings) == 1:
        st.warning(md_escape(warnings[0]), icon=":material/warning:")
    elif warnings:
        with st.expander(T("verdict.warnings_many", n=len(warnings)), icon=":material/warning:"):
            for w in warnings:
                st.warning(md_escape(w), icon=":material/warning:")


def show_analysis(analysis: pipeline.Analysis, extra: Callable[[pipeline.Analysis], None] | None = None) -> None:
    """The verdict, the judged table, the pictures, then the details (warnings, grouped when several; items)."""
    r = analysis.result
    show_status(analysis.status)
    ident = T("ui.acquired", date=r.acquired_at.strftime("%Y-%m-%d %H:%M") if r.acquired_at else "?", station=md_escape(r.station_name or "—"))
    st.caption(ident)
    df = judged_frame(analysis)
    if not df.empty:
        st.dataframe(style_status(df), hide_index=True, width="stretch")
    if r.overlays:
        cols = st.columns(min(3, len(r.overlays)))
        for i, (title, rgb) in enumerate(r.overlays):
            cols[i % len(cols)].image(rgb, caption=md_escape(title), width="stretch")
    if extra is not None:
        extra(analysis)
    show_warnings(list(analysis.warnings))
    if r.items:
        with st.expander(T("ui.items"), expanded=False):
            st.dataframe(items_frame(r.items, lang(), analysis.spec), hide_index=True, width="stretch")


def save_block(store: Store, analysis: pipeline.Analysis, key: str, same_test_only: bool = False) -> int | None:
    """Asks the pipeline's duplicate question, takes the comment and the save button; returns the stored session id.

    The question is asked again inside the write transaction (`pipeline.store_analysis`): files stored meanwhile by
    someone else are refused with a sentence, never stored twice unasked. `same_test_only`: one upload feeds several
    tests (MR image quality), so only a session of the same test holding these files is a duplicate."""
    if analysis.machine is None:
        st.warning(T("ui.no_machine"))
        return None
    dups = pipeline.duplicates(store, analysis, same_test_only=same_test_only)
    allow = False
    if dups:
        d = dups[0]
        st.warning(T("ui.duplicate", file=md_escape(d["upload"].rsplit("/", 1)[-1]), session=d["session_id"], date=d["acquired_at"]))
        allow = st.checkbox(T("ui.duplicate_confirm"), key=f"{key}_dup_ok")
    comment = st.text_area(T("ui.comment"), key=f"{key}_comment", height=80)
    disabled = bool(dups) and not allow
    if st.button(T("ui.save"), key=f"{key}_save", type="primary", disabled=disabled):
        if not operator():
            st.error(T("ui.operator_required"))
            return None
        try:
            sid = pipeline.store_analysis(store, analysis, operator=operator(), comment=comment, allow_duplicate=allow,
                                          same_test_only=same_test_only)
        except DuplicateUploadError as exc:  # stored meanwhile (another user, another tab)
            st.error(md_escape(exc.message(lang())))
            return None
        st.session_state[f"{key}_saved"] = sid
    sid = st.session_state.get(f"{key}_saved")
    if sid:
        st.success(T("ui.saved", session=sid))
        st.page_link("pages/history.py", label=T("ui.see_history"), icon=":material/timeline:", query_params={"session": str(sid)})
    return sid


# ------------------------------------------------------------------ pieces of the one page flow (pages/flow.py)


def _inputs_key(inputs: list[tuple[str, bytes]], machine: dict | None) -> str:
    h = hashlib.sha256()
    for name, data in inputs:
        h.update(name.encode())
        h.update(hashlib.sha256(data).digest())
    h.update(str(machine["id"] if machine else "-").encode())
    h.update(lang().encode())
    return h.hexdigest()


def given_date_for(key: str, inputs: list[tuple[str, bytes]]) -> dt.datetime | None:
    """The acquisition date the user gave for these files; forgotten when the files change (a date given for
    other files is not theirs)."""
    ident = _inputs_key(inputs, None)
    if st.session_state.get(f"{key}_given_for") != ident:
        st.session_state.pop(f"{key}_given_date", None)
        st.session_state[f"{key}_given_for"] = ident
    return st.session_state.get(f"{key}_given_date")


def ask_date_after(key: str, exc: QCInputError) -> None:
    """An analysis refused for want of a usable date (`pipeline.needs_date`): forget an impossible date the user
    gave, and ask for the date with the refusal's sentence (a header placeholder is named)."""
    if exc.key == "err.implausible_given_date":
        st.session_state.pop(f"{key}_given_date", None)
    acquisition_date_form(key, exc.message(lang()) if exc.key != "err.no_acquisition_date" else None)


def acquisition_date_form(key: str, reason: str | None = None) -> None:
    """The files carry no acquisition date, or only a placeholder (the pipeline said so, `reason`): ask for it,
    required; the analysis runs again with it. The page only gathers the date; `qc.pipeline` decides its use."""
    st.warning(md_escape(reason) if reason else T("ui.acquisition_date_needed"), icon=":material/event:")
    with st.form(f"{key}_date_form"):
        c1, c2 = st.columns(2)
        from qc.readers.dicom_io import EARLIEST_PLAUSIBLE_DATE

        day = c1.date_input(T("ui.acquisition_date"), value=None, format="YYYY-MM-DD", key=f"{key}_date_day",
                            min_value=EARLIEST_PLAUSIBLE_DATE.date(), max_value=dt.date.today())
        at = c2.time_input(T("ui.acquisition_time"), value=dt.time(8, 0), key=f"{key}_date_time")
        if st.form_submit_button(T("ui.acquisition_date_use"), type="primary"):
            if day is None:
                st.error(T("err.no_acquisition_date"))
            else:
                st.session_state[f"{key}_given_date"] = dt.datetime.combine(day, at or dt.time(0, 0))
                st.rerun()
