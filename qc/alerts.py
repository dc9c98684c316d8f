"""E-mail alerts: a result out of tolerance when it is stored, a control-chart signal, and one morning digest
(tests overdue, sessions waiting for review for more than N hours).

Server: SMTP set in Paramètres (host, port, STARTTLS or none, login, sender, an optional CA file for a
hospital's own certificate authority). STARTTLS verifies the server's certificate against the system's
authorities (plus the CA file when given): a mail is never sent over an unverified link. The password is a
secret: stored apart from the audited settings (the audit says only "changed"), never shown back;
`QC_SMTP_PASSWORD` in the environment overrides it (for servers that keep secrets out of the database).

Recipients: users of qc.records.auth with an e-mail address, subscribed per alert kind and optionally per
machine and test (table `alert_subscriptions`). Messages are plain text from the catalogue (`alert.*`),
in the default language; machine names, comments and test names are user text put in as they are, never
as markup, and line breaks are removed from the subject (no header injection).

Never fails the caller: no server configured → nothing is sent and nothing fails (Paramètres says so);
a failed send is logged (Python logging and the `alert_log` table, shown in Paramètres) and the session
stays stored. The out-of-tolerance alert is sent from a background thread with its own database
connection, so the page that stored the session never waits for the mail server; a non-daemon thread, so
a command-line store exits only after its mail went (or failed).

Not alerted: demo sessions, and sessions stored inside a larger transaction (an import of past readings
from a spreadsheet stores many sessions at once: an alert per past reading would be noise, and a mail sent
before the import commits could announce a session that is then rolled back).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from qc.i18n import t
from qc.records import settings as alert_records  # light: the command line's parser imports this module

log = logging.getLogger("qc.alerts")

KINDS = ("out_of_tolerance", "control_signal", "overdue", "review_wait")
SECURITY = ("starttls", "none")
DEFAULT_REVIEW_HOURS = 24.0
SMTP_TIMEOUT_S = 15
PASSWORD_KEY = "alerts.smtp.password"
SETTING_KEYS = ("host", "port", "security", "username", "sender", "cafile", "review_hours")

_threads: list[threading.Thread] = []
_threads_lock = threading.Lock()


@dataclass
class SmtpConfig:
    host: str
    port: int
    security: str  # "starttls" or "none"
    username: str
    password: str
    sender: str
    cafile: str = ""

    @property
    def configured(self) -> bool:
        return bool(self.host and self.sender)


# ------------------------------------------------------------------ settings


def smtp_config(store) -> SmtpConfig:
    """The SMTP server as set in Paramètres (an empty host: not configured)."""
    get = lambda k, d="": (store.get_setting(f"alerts.smtp.{k}", d) or d).strip()  # noqa: E731
    try:
        port = int(get("port", "587"))
    except ValueError:
        port = 587
    password = os.environ.get("QC_SMTP_PASSWORD") or store.get_setting(PASSWORD_KEY, "") or ""
    return SmtpConfig(host=get("host"), port=port, security=get("security", "starttls") or "starttls", username=get("username"),
                      password=password, sender=get("sender"), cafile=get("cafile"))


def password_is_set(store) -> bool:
    return bool(os.environ.get("QC_SMTP_PASSWORD") or store.get_setting(PASSWORD_KEY, ""))


def save_smtp_settings(store, user: str, *, host: str, port: int, security: str, username: str, sender: str, cafile: str = "",
                       review_hours: float = DEFAULT_REVIEW_HOURS, password: str | None = None) -> None:
    """Save the server settings in one audited transaction. `password`: None keeps the stored one, "" erases it;
    its value never reaches the audit log (which says "changed" or "erased")."""
    if security not in SECURITY:
        raise ValueError(f"security must be one of {SECURITY}")
    if not (0 < int(port) < 65536):
        raise ValueError("port out of range")
    if review_hours <= 0:
        raise ValueError("review hours must be positive")
    values = {"host": host.strip(), "port": str(int(port)), "security": security, "username": username.strip(), "sender": sender.strip(),
              "cafile": cafile.strip(), "review_hours": f"{float(review_hours):g}"}
    settings = {f"alerts.smtp.{k}": v for k, v in values.items()}
    # The values set (the earlier ones are in the earlier audit rows), never the password.
    details: dict = dict(values)
    if password is not None:
        settings[PASSWORD_KEY] = password
        details["password"] = "changed" if password else "erased"
    store.set_settings(settings, user=user, action="set_smtp", entity_id="alerts.smtp", details=details)


def review_hours(store) -> float:
    try:
        return float(store.get_setting("alerts.smtp.review_hours", "") or DEFAULT_REVIEW_HOURS)
    except ValueError:
        return DEFAULT_REVIEW_HOURS


def _lang(store) -> str:
    return store.get_setting("default_lang", "fr") or "fr"


# ------------------------------------------------------------------ subscriptions


def subscribe(store, user_id: int, kind: str, *, machine_id: int | None = None, test: str = "", by: str = "") -> int:
    """A user receives `kind` alerts (for one machine and/or test, or every one); audited."""
    if kind not in KINDS:
        raise ValueError(f"unknown alert kind {kind!r}")
    return alert_records.add_alert_subscription(store, user_id, kind, machine_id, test, by)


def unsubscribe(store, subscription_id: int, by: str = "") -> None:
    alert_records.delete_alert_subscription(store, subscription_id, by)


def subscriptions(store) -> list[dict]:
    """Every subscription with its user's name and e-mail and its machine's name."""
    return alert_records.alert_subscriptions(store)


def recipients(store, kind: str, machine_id: int | None = None, test: str | None = None) -> list[str]:
    """E-mail addresses of the active users subscribed to `kind` for this machine and test (sorted, once each)."""
    return sorted(alert_records.alert_recipient_emails(store, kind, machine_id, test))


def _subscribers(store, kind: str) -> list[dict]:
    """Per address, the (machine_id, test) filters it subscribed `kind` with (None / '' = every)."""
    out: dict[str, list[tuple[int | None, str]]] = {}
    for r in alert_records.alert_subscription_filters(store, kind):
        out.setdefault(r["email"], []).append((r["machine_id"], r["test"] or ""))
    return [{"email": e, "filters": f} for e, f in sorted(out.items())]


def _matches(filters: list[tuple[int | None, str]], machine_id: int, test: str) -> bool:
    return any((m is None or m == machine_id) and (not f or f == test) for m, f in filters)


# ------------------------------------------------------------------ sending


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def build_message(cfg: SmtpConfig, to: list[str], subject: str, body: str) -> EmailMessage:
    """A plain-text message (UTF-8); the subject on one line whatever the user text in it."""
    msg = EmailMessage()
    msg["From"] = cfg.sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = _one_line(subject)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=cfg.sender.rsplit("@", 1)[-1] if "@" in cfg.sender else None)
    msg.set_content(body)
    return msg


def send_mail(cfg: SmtpConfig, to: list[str], subject: str, body: str) -> None:
    """Send one message; raises (OSError, smtplib.SMTPException, ssl.SSLError) when the server refuses or is unreachable."""
    msg = build_message(cfg, to, subject, body)
    with smtplib.SMTP(cfg.host, cfg.port, timeout=SMTP_TIMEOUT_S) as smtp:
        smtp.ehlo()
        if cfg.security == "starttls":
            context = ssl.create_default_context()
            if cfg.cafile:
                context.load_verify_locations(cafile=cfg.cafile)
            smtp.starttls(context=context)
            smtp.ehlo()
        if cfg.username:
            smtp.login(cfg.username, cfg.password)
        smtp.send_message(msg)


def _error_text(exc: BaseException) -> str:
    return _one_line(f"{type(exc).__name__}: {exc}")[:500]


def _log(store, kind: str, session_id: int | None, to: list[str], outcome: str, error: str = "") -> None:
    alert_records.log_alert(store, kind, session_id, ", ".join(to), outcome, error)


def deliver(store, kind: str, to: list[str], subject: str, body: str, session_id: int | None = None) -> bool:
    """Send and log; True when the server accepted it. Never raises for a mail failure (logged instead)."""
    cfg = smtp_config(store)
    if not cfg.configured or not to:
        return False
    try:
        send_mail(cfg, to, subject, body)
    except (OSError, smtplib.SMTPException, ssl.SSLError, ValueError) as exc:
        log.warning("alert %s (session %s) to %s not sent: %s", kind, session_id, to, _error_text(exc))
        _log(store, kind, session_id, to, "failed", _error_text(exc))
        return False
    _log(store, kind, session_id, to, "sent")
    return True


def send_test_message(store, to: str, lang: str) -> tuple[bool, str]:
    """« Envoyer un message d'essai »: (True, "") when the server accepted it, else (False, the error in one line)."""
    cfg = smtp_config(store)
    if not cfg.configured:
        return False, t("alert.not_configured", lang)
    try:
        send_mail(cfg, [to.strip()], t("alert.test.subject", lang), t("alert.test.body", lang, host=cfg.host, port=cfg.port))
    except (OSError, smtplib.SMTPException, ssl.SSLError, ValueError) as exc:
        _log(store, "test", None, [to], "failed", _error_text(exc))
        return False, _error_text(exc)
    _log(store, "test", None, [to], "sent")
    return True, ""


def alert_log(store, limit: int = 50) -> list[dict]:
    return alert_records.alert_log_rows(store, limit)


# ------------------------------------------------------------------ out of tolerance, control signals (on store)


def _test_name(store, test: str, lang: str) -> str:
    from qc.registry import get_test

    try:
        return get_test(test, store).name(lang)
    except Exception:  # a test removed since: its key still names it
        return test


def _metric_label(store, test: str, metric: str, item: str, lang: str) -> str:
    """A metric's label as the pages show it (never its code), with its item."""
    from qc.registry import get_test

    try:
        spec = get_test(test, store).metric(metric)
    except Exception:  # a test removed since: its code still names it
        spec = None
    name = spec.label(lang) if spec is not None else metric
    return f"{name} [{item}]" if item else name


def _leaf_lines(store, session_id: int, lang: str) -> list[str]:
    from qc.records.sessions import failing_metrics, session_row  # imports pandas: not when building the CLI parser

    lines = []
    test = session_row(store, session_id)["test"]
    for m in failing_metrics(store, session_id):
        value = "—" if m["value"] is None else f"{m['value']:.4g}"
        where = _metric_label(store, test, m["name"], m["item"] or "", lang)
        lines.append(t("alert.leaf_line", lang, metric=where, value=value, unit=m["unit"] or "", status=t("status." + m["status"], lang)))
    return lines


def out_of_tolerance_message(store, session_id: int, lang: str) -> tuple[str, str]:
    s = store.session(session_id)
    test = _test_name(store, s["test"], lang)
    subject = t("alert.oot.subject", lang, status=t("status." + s["status"], lang), test=test, machine=s["machine"])
    body = t("alert.oot.body", lang, session=session_id, test=test, machine=s["machine"], date=s["acquired_at"], operator=s["operator"] or "—",
             status=t("status." + s["status"], lang), comment=s["comment"] or "—", leaves="\n".join(_leaf_lines(store, session_id, lang)) or "—")
    if s.get("review_state") == "pending":
        body += "\n\n" + t("alert.oot.pending", lang)
    return subject, body + "\n\n" + t("alert.footer", lang)


def control_signals(store, session: dict) -> list[str]:
    """The control-chart signals this session raises, one plain sentence each: for each metric and item of the
    session, `qc.reporting.spc.signals_for` (its stored baseline, events and dismissed steps), keeping the rule
    episodes that end on this session's result, in words (`signal_text`)."""
    from qc.reporting.spc import signal_text, signals_for

    import pandas as pd

    lang = _lang(store)
    this_point = pd.Timestamp(session["acquired_at"])
    out: list[str] = []
    for leaf in sorted({(m["name"], m["item"] or "") for m in session["metrics"]}):
        try:
            result = signals_for(store, session["machine_id"], session["test"], leaf[0], leaf[1])
        except Exception as exc:  # a chart that cannot be computed must not stop the store nor the other alerts
            log.warning("control signals of session %s %s not computed: %s", session["id"], leaf, _error_text(exc))
            continue
        # Only the signals this session's result takes part in (an episode ending on its point): older episodes
        # were alerted when they happened.
        for sig in result.signals:
            if pd.Timestamp(sig.last_at) != this_point:
                continue
            where = _metric_label(store, session["test"], leaf[0], leaf[1], lang)
            out.append(f"{where}: {_one_line(signal_text(sig, lang))}")
    return out


def notify_stored(store, session_id: int) -> list[str]:
    """What the storing of one session sends (synchronously): the out-of-tolerance alert when its status is fail or
    warning, and the control-signal alert when it raises one. Returns the kinds sent. Never raises."""
    sent: list[str] = []
    try:
        if not smtp_config(store).configured:
            return sent
        s = store.session(session_id)
        if s.get("is_demo"):
            return sent
        lang = _lang(store)
        if s["status"] in ("fail", "warning"):
            to = recipients(store, "out_of_tolerance", s["machine_id"], s["test"])
            if to and deliver(store, "out_of_tolerance", to, *out_of_tolerance_message(store, session_id, lang), session_id=session_id):
                sent.append("out_of_tolerance")
        to = recipients(store, "control_signal", s["machine_id"], s["test"])
        signals = control_signals(store, s) if to else []
        if signals:
            test = _test_name(store, s["test"], lang)
            subject = t("alert.spc.subject", lang, test=test, machine=s["machine"])
            body = t("alert.spc.body", lang, session=session_id, test=test, machine=s["machine"], date=s["acquired_at"],
                     signals="\n".join(f"- {x}" for x in signals)) + "\n\n" + t("alert.footer", lang)
            if deliver(store, "control_signal", to, subject, body, session_id=session_id):
                sent.append("control_signal")
    except Exception as exc:  # an alert never fails a store: logged, shown in Paramètres
        log.exception("alerts of session %s failed", session_id)
        try:
            _log(store, "out_of_tolerance", session_id, [], "failed", _error_text(exc))
        except Exception:
            pass
    return sent


def after_store(store, session_id: int, *, is_demo: bool = False) -> threading.Thread | None:
    """Called by the pipeline once a session is stored: sends its alerts in a background thread (own connection).
    Nothing when no server is configured, for a demo session, or inside a larger transaction (see the module
    docstring). Never raises."""
    try:
        if is_demo or getattr(store, "_write_thread", None) == threading.get_ident():
            return None
        if not smtp_config(store).configured:
            return None
        data_dir = store.data_dir
    except Exception:
        log.exception("alerts of session %s not started", session_id)
        return None

    def run() -> None:
        from qc.records.storage import Store

        try:
            with Store(data_dir) as own:
                notify_stored(own, session_id)
        except Exception:
            log.exception("alerts of session %s failed", session_id)

    thread = threading.Thread(target=run, name=f"qc-alerts-{session_id}", daemon=False)
    with _threads_lock:
        _threads[:] = [x for x in _threads if x.is_alive()]
        _threads.append(thread)
    thread.start()
    return thread


def wait_for_alerts(timeout: float = 30.0) -> None:
    """Wait for the alerts being sent (tests, and a command line before it reports)."""
    with _threads_lock:
        pending = list(_threads)
    for thread in pending:
        thread.join(timeout)


# ------------------------------------------------------------------ the morning digest


def digest_for(store, email: str, now: dt.datetime, lang: str) -> tuple[list[str], list[str]]:
    """(overdue lines, review-wait lines) for one address, by its subscriptions."""
    from qc.records.schedule import due_table
    from qc.registry import all_tests

    overdue: list[str] = []
    subs = {k: next((s["filters"] for s in _subscribers(store, k) if s["email"] == email), []) for k in ("overdue", "review_wait")}
    if subs["overdue"]:
        specs = all_tests(store)
        for m in store.machines():
            for r in due_table(store, m["id"], specs, now.date(), lang):
                if r.overdue and _matches(subs["overdue"], m["id"], r.test):
                    when = t("alert.digest.never", lang) if r.last_done is None else t("alert.digest.late", lang, days=r.days_overdue,
                                                                                         last=r.last_done.isoformat())
                    overdue.append(t("alert.digest.overdue_line", lang, machine=m["name"], test=r.name, when=when))
    waiting: list[str] = []
    if subs["review_wait"]:
        limit = now - dt.timedelta(hours=review_hours(store))
        for s in store.pending_reviews():
            stored = dt.datetime.fromisoformat(s["stored_at"])
            if stored <= limit and _matches(subs["review_wait"], s["machine_id"], s["test"]):
                hours = (now - stored).total_seconds() / 3600
                waiting.append(t("alert.digest.review_line", lang, session=s["id"], machine=s["machine"], test=_test_name(store, s["test"], lang),
                                 date=s["acquired_at"], hours=f"{hours:.0f}"))
    return overdue, waiting


def send_digest(store, now: dt.datetime | None = None, *, force: bool = False) -> dict:
    """The morning digest: one message per subscribed address that has something to read. Once a day (a second call
    the same day sends nothing unless `force`). Returns {"sent": n, "failed": n, "skipped": reason or ""}."""
    now = now or dt.datetime.now()
    lang = _lang(store)
    if not smtp_config(store).configured:
        return {"sent": 0, "failed": 0, "skipped": "not_configured"}
    today = now.date().isoformat()
    if not force and store.get_setting("alerts.digest.last_date", "") == today:
        return {"sent": 0, "failed": 0, "skipped": "already_sent"}
    emails = sorted({s["email"] for k in ("overdue", "review_wait") for s in _subscribers(store, k)})
    sent = failed = 0
    for email in emails:
        overdue, waiting = digest_for(store, email, now, lang)
        if not overdue and not waiting:
            continue
        parts = []
        if overdue:
            parts.append(t("alert.digest.overdue_title", lang, n=len(overdue)) + "\n" + "\n".join(f"- {x}" for x in overdue))
        if waiting:
            parts.append(t("alert.digest.review_title", lang, n=len(waiting), hours=f"{review_hours(store):g}") + "\n"
                         + "\n".join(f"- {x}" for x in waiting))
        body = t("alert.digest.intro", lang, date=today) + "\n\n" + "\n\n".join(parts) + "\n\n" + t("alert.footer", lang)
        subject = t("alert.digest.subject", lang, date=today, overdue=len(overdue), waiting=len(waiting))
        if deliver(store, "digest", [email], subject, body):
            sent += 1
        else:
            failed += 1
    store.set_setting_unaudited("alerts.digest.last_date", today)
    return {"sent": sent, "failed": failed, "skipped": ""}


def status_summary(store) -> dict:
    """For Paramètres: configured or not, the last failure (if later than the last success)."""
    cfg = smtp_config(store)
    rows = alert_log(store, 200)
    last_fail = next((r for r in rows if r["outcome"] == "failed"), None)
    last_ok = next((r for r in rows if r["outcome"] == "sent"), None)
    return {"configured": cfg.configured, "last_failure": last_fail if last_fail and (not last_ok or last_fail["id"] > last_ok["id"]) else None,
            "last_sent": last_ok}


# ------------------------------------------------------------------ command line


def cmd_alerts(args) -> int:
    """`python -m qc alerts digest [--force]`: the morning digest (for a cron job or a systemd timer);
    `python -m qc alerts test --to ADDRESS`: a test message. Exit 0 when nothing failed, 2 otherwise."""
    from qc.records.storage import open_store

    with open_store(args.data_dir) as store:
        lang = args.lang or _lang(store)
        if args.action == "test":
            if not args.to:
                raise ValueError("--to ADDRESS is required")
            ok, error = send_test_message(store, args.to, lang)
            print(t("set.alerts.test_ok", lang) if ok else f"{t('set.alerts.test_failed', lang)} {error}")
            return 0 if ok else 2
        out = send_digest(store, force=args.force)
    if out["skipped"] == "not_configured":
        print(t("alert.not_configured", lang))
        return 0
    if out["skipped"] == "already_sent":
        print(t("alert.cli.already_sent", lang))
        return 0
    print(t("alert.cli.sent", lang, sent=out["sent"], failed=out["failed"]))
    return 0 if not out["failed"] else 2


def add_alert_commands(sub) -> None:
    s = sub.add_parser("alerts", help="e-mail alerts: the morning digest (overdue tests, sessions waiting for review), a test message")
    s.add_argument("action", choices=["digest", "test"])
    s.add_argument("--force", action="store_true", help="send the digest again even if it was sent today")
    s.add_argument("--to", help="address of the test message")
    s.set_defaults(func=cmd_alerts)
