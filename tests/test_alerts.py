"""E-mail alerts against a real local SMTP server (aiosmtpd), never a mock: out of tolerance on store, the morning
digest, STARTTLS with login on a self-signed certificate made here, failures that never fail a store."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import shutil
import socket
import subprocess

import pytest

import os

if os.environ.get("CI"):  # a real SMTP server must run in CI: a missing dev dependency fails, never skips
    import aiosmtpd  # noqa: F401
else:
    aiosmtpd = pytest.importorskip("aiosmtpd", reason="aiosmtpd is a dev dependency (requirements-dev.txt)")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

from qc import alerts, pipeline  # noqa: E402
from qc.records import auth  # noqa: E402
from qc.registry import get_test  # noqa: E402

WHEN = dt.datetime(2026, 11, 3, 8, 30)


class Inbox:
    """aiosmtpd handler keeping every message received."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def configure(store, port: int, **kw) -> None:
    args = {"host": "127.0.0.1", "port": port, "security": "none", "username": "", "sender": "qc@hospital.test"} | kw
    alerts.save_smtp_settings(store, "admin", **args)


def helium(store, machine, level: str, when: dt.datetime = WHEN, comment: str = "") -> int:
    analysis = pipeline.record_logged(store, get_test("helium", store), machine, {"helium_level_pct": level}, acquired_at=when)
    sid = pipeline.store_analysis(store, analysis, operator="Anne Opé", comment=comment)
    alerts.wait_for_alerts()
    return sid


def physicist(store, email_address: str = "phys@hospital.test", name: str = "marie") -> int:
    return auth.add_user(store, name, "Marie Physicienne", "physicist", None, email=email_address, by="admin")


def test_no_server_configured_nothing_sent_nothing_fails(store, machine):
    uid = physicist(store)
    alerts.subscribe(store, uid, "out_of_tolerance", by="admin")
    sid = helium(store, machine, "60")  # out of tolerance
    assert store.session(sid)["status"] == "fail"
    assert alerts.after_store(store, sid) is None  # no thread started
    assert alerts.alert_log(store) == []
    assert alerts.status_summary(store)["configured"] is False
    assert alerts.send_digest(store)["skipped"] == "not_configured"


def test_out_of_tolerance_store_mails_the_subscribers_of_that_machine(store, machine, smtp_server):
    controller, inbox = smtp_server
    configure(store, controller.port)
    other = store.add_machine("Unity 2", user="t")
    marie = physicist(store)
    paul = auth.add_user(store, "paul", "Paul", "physicist", None, email="paul@hospital.test", by="admin")
    alerts.subscribe(store, marie, "out_of_tolerance", machine_id=machine["id"], by="admin")
    alerts.subscribe(store, paul, "out_of_tolerance", machine_id=other, by="admin")  # another machine: not him

    helium(store, machine, "80")  # within tolerance: no mail
    assert inbox.messages == []
    sid = helium(store, machine, "60", comment="niveau <b>bas</b>\nrappel")
    assert len(inbox.messages) == 1
    msg = inbox.messages[0]
    assert inbox.envelopes[0].rcpt_tos == ["phys@hospital.test"]
    assert msg["From"] == "qc@hospital.test"
    assert "Unity T" in msg["Subject"] and "Hors tolérance" in msg["Subject"]
    assert msg.get_content_type() == "text/plain"
    body = msg.get_content()
    assert f"Séance : {sid}" in body
    assert "Niveau d'hélium : 60 %" in body and "helium_level_pct" not in body
    assert "niveau <b>bas</b>" in body  # user text as typed, plain text, never markup
    log = alerts.alert_log(store)
    assert [(r["kind"], r["session_id"], r["outcome"]) for r in log] == [("out_of_tolerance", sid, "sent")]


def test_a_mail_failure_never_fails_the_store_and_is_logged(store, machine):
    configure(store, free_port())  # nothing listens there
    alerts.subscribe(store, physicist(store), "out_of_tolerance", by="admin")
    sid = helium(store, machine, "60")
    assert store.session(sid)["status"] == "fail"  # stored all the same
    (row,) = alerts.alert_log(store)
    assert row["outcome"] == "failed" and row["session_id"] == sid and "Connection" in row["error"]
    assert alerts.status_summary(store)["last_failure"]["id"] == row["id"]


def test_demo_and_imported_sessions_send_nothing(store, machine, smtp_server):
    controller, inbox = smtp_server
    configure(store, controller.port)
    alerts.subscribe(store, physicist(store), "out_of_tolerance", by="admin")
    analysis = pipeline.record_logged(store, get_test("helium", store), machine, {"helium_level_pct": "60"}, acquired_at=WHEN)
    pipeline.store_analysis(store, analysis, operator="demo", is_demo=True)
    with store.write():  # many sessions in one transaction (an import): no alert per past reading
        analysis = pipeline.record_logged(store, get_test("helium", store), machine, {"helium_level_pct": "61"}, acquired_at=WHEN + dt.timedelta(days=1))
        pipeline.store_analysis(store, analysis, operator="import")
    alerts.wait_for_alerts()
    assert inbox.messages == []


def test_subject_stays_one_line_whatever_the_machine_name(store, smtp_server):
    controller, inbox = smtp_server
    configure(store, controller.port)
    mid = store.add_machine("Unity\r\nBcc: victim@evil.test", user="t")
    alerts.subscribe(store, physicist(store), "out_of_tolerance", by="admin")
    helium(store, store.machine(mid), "60")
    (msg,) = inbox.messages
    assert msg["Bcc"] is None
    assert "\n" not in msg["Subject"] and "Bcc: victim@evil.test" in msg["Subject"]
    assert inbox.envelopes[0].rcpt_tos == ["phys@hospital.test"]


def test_password_is_a_secret_never_in_the_audit(store):
    configure(store, 2525, username="qc", password="s3cret-Pa55")
    audit = store.audit_frame()
    rows = audit[audit["action"] == "set_smtp"]
    assert len(rows) == 1
    assert "s3cret-Pa55" not in rows.iloc[0]["details"]
    assert json.loads(rows.iloc[0]["details"])["password"] == "changed"
    assert "s3cret-Pa55" not in audit.to_csv()
    assert alerts.password_is_set(store)
    configure(store, 2525, username="qc")  # password None: kept
    assert alerts.smtp_config(store).password == "s3cret-Pa55"


def test_morning_digest_lists_overdue_tests_and_sessions_waiting_for_review(store, machine, smtp_server):
    controller, inbox = smtp_server
    configure(store, controller.port, review_hours=24)
    uid = physicist(store)
    alerts.subscribe(store, uid, "overdue", machine_id=machine["id"], test="helium", by="admin")
    alerts.subscribe(store, uid, "review_wait", by="admin")
    day = dt.datetime.now().replace(microsecond=0) - dt.timedelta(days=1)
    helium(store, machine, "80", when=day)  # weekly: due in 6 days
    analysis = pipeline.record_logged(store, get_test("helium", store), machine, {"helium_level_pct": "79"}, acquired_at=day + dt.timedelta(hours=1))
    pending = pipeline.store_analysis(store, analysis, operator="receiver", review_state="pending")
    stored_at = dt.datetime.fromisoformat(store.session(pending)["stored_at"])

    out = alerts.send_digest(store, now=stored_at + dt.timedelta(hours=2))  # not due yet, waiting 2 h < 24 h: nothing to say
    assert out == {"sent": 0, "failed": 0, "skipped": ""} and inbox.messages == []
    later = stored_at + dt.timedelta(days=10)
    out = alerts.send_digest(store, now=later)
    assert out["sent"] == 1
    body = inbox.messages[0].get_content()
    assert "Unity T — Niveau hélium : en retard de" in body
    assert f"séance {pending} : Unity T — Niveau hélium" in body
    assert alerts.send_digest(store, now=later)["skipped"] == "already_sent"  # once a day
    assert alerts.send_digest(store, now=later, force=True)["sent"] == 1


def test_cli_digest_without_server_says_so(store, capsys):
    from qc.cli import main

    assert main(["--data-dir", str(store.data_dir), "alerts", "digest"]) == 0
    assert "Aucun serveur" in capsys.readouterr().out


# ------------------------------------------------------------------ STARTTLS + login, self-signed certificate


@pytest.fixture
def tls_server(tmp_path):
    openssl = shutil.which("openssl")
    if openssl is None:
        if os.environ.get("CI"):
            pytest.fail("the openssl command is missing: it makes the TLS test's self-signed certificate")
        pytest.skip("needs the openssl command to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"qc-sender" and auth_data.password == b"Right-Pa55"
        logins.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)  # not handled: the server answers 235 or 535 itself

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=context, require_starttls=True,
                            auth_required=True, auth_require_tls=True, authenticator=authenticator)
    controller.start()
    yield controller, inbox, cert, logins
    controller.stop()


def test_starttls_and_login_with_a_self_signed_certificate(store, machine, tls_server):
    controller, inbox, cert, logins = tls_server
    configure(store, controller.port, security="starttls", username="qc-sender", password="Right-Pa55", cafile=str(cert))
    ok, error = alerts.send_test_message(store, "phys@hospital.test", "fr")
    assert ok, error
    assert inbox.messages[0]["Subject"] == "[CQ MR-Linac] Message d'essai"
    assert logins and all(ok for _, ok in logins)
    alerts.subscribe(store, physicist(store), "out_of_tolerance", by="admin")
    helium(store, machine, "60")
    assert len(inbox.messages) == 2 and "Hors tolérance" in inbox.messages[1]["Subject"]


def test_starttls_refuses_an_unverified_certificate_and_a_wrong_login(store, tls_server):
    controller, inbox, cert, logins = tls_server
    configure(store, controller.port, security="starttls", username="qc-sender", password="Right-Pa55")  # no CA file
    ok, error = alerts.send_test_message(store, "phys@hospital.test", "fr")
    assert not ok and "CERTIFICATE_VERIFY_FAILED" in error
    configure(store, controller.port, security="starttls", username="qc-sender", password="wrong-one", cafile=str(cert))
    ok, error = alerts.send_test_message(store, "phys@hospital.test", "fr")
    assert not ok and "535" in error
    assert inbox.messages == []
    assert [r["outcome"] for r in alerts.alert_log(store)] == ["failed", "failed"]


def test_a_control_signal_raised_by_the_stored_session_is_mailed(store, machine, smtp_server, monkeypatch):
    """The control chart (qc.reporting.spc) of the helium level: 20 steady readings make the baseline, then a reading
    far below it (still within tolerance) fires « beyond 3σ »: that session's signal is mailed to the control-signal
    subscribers; the readings before it raised none."""
    import datetime as dt

    from qc.reporting.spc import signals_for

    controller, inbox = smtp_server
    configure(store, controller.port)
    alerts.subscribe(store, physicist(store), "control_signal", machine_id=machine["id"], by="admin")
    monkeypatch.setattr(alerts, "after_store", lambda *a, **k: None)  # notified below, once the id is known
    spec = get_test("helium", store)
    ids = []
    for k, level in enumerate([80.0 + 0.1 * ((-1) ** k) * (k % 3) for k in range(20)] + [78.5]):
        a = pipeline.record_logged(store, spec, machine, {"helium_level_pct": f"{level}"}, acquired_at=WHEN + dt.timedelta(days=7 * k))
        ids.append(pipeline.store_analysis(store, a, operator="AG"))
    assert alerts.notify_stored(store, ids[-2]) == []  # a steady reading raises no signal
    assert not inbox.messages
    assert any(s.rule for s in signals_for(store, machine["id"], "helium", "helium_level_pct", "").signals)
    assert alerts.notify_stored(store, ids[-1]) == ["control_signal"]
    (msg,) = inbox.messages
    assert "Signal de carte de contrôle" in msg["Subject"]
    assert "hélium" in msg.get_content().lower()
