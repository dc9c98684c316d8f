"""The logged-in user is re-read from the database on every page run (issue 18 §6): deactivated or
password changed → logged out at the next click; role changed → applied at the next click."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO
from qc.records import auth
from qc.records.storage import open_store

APP = str(REPO / "app.py")


@pytest.fixture
def users(qc_data_dir, monkeypatch):
    monkeypatch.setenv("QC_AUTH", "password")
    monkeypatch.setattr(auth, "SCRYPT_N", 2**10)
    with open_store(qc_data_dir) as s:
        s.add_machine("Unity A")
        auth.add_user(s, "op", "Opé Rateur", "operator", "op-secret-1", by="test")
        auth.add_user(s, "adm", "Ad Min", "admin", "adm-secret-1", by="test")
    return qc_data_dir


def login(username: str, password: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.text_input(key="auth_username").input(username)
    at.text_input(key="auth_password").input(password)
    at.button[0].click().run()
    assert not at.exception
    assert any("Tableau de bord" in t.value for t in at.title)
    return at


def logged_out(at: AppTest) -> bool:
    has_form = any(w.key == "auth_username" for w in at.text_input)
    return has_form and not any("Tableau de bord" in t.value for t in at.title)


def test_deactivated_user_is_logged_out_on_the_next_run(users):
    at = login("op", "op-secret-1")
    with open_store(users) as s:
        auth.update_user(s, "op", "adm", active=False)
    at.run()
    assert not at.exception
    assert logged_out(at)
    assert any("Reconnectez-vous" in w.value for w in at.warning)


def test_password_change_ends_the_open_session(users):
    at = login("op", "op-secret-1")
    with open_store(users) as s:
        auth.update_user(s, "op", "adm", password="op-secret-2")
    at.run()
    assert logged_out(at)


def test_role_change_applies_on_the_next_run(users):
    at = login("op", "op-secret-1")
    with pytest.raises(ValueError):
        at.switch_page("pages/settings.py")  # an operator has no Settings page
    with open_store(users) as s:
        auth.update_user(s, "op", "adm", role="physicist")
    at.run()
    assert any("(physicien)" in t.value for t in at.text)
    at.switch_page("pages/settings.py").run()
    assert not at.exception and not logged_out(at)
    with open_store(users) as s:
        auth.update_user(s, "op", "adm", role="operator")
    at.run()
    assert any("Accès réservé" in e.value for e in at.error) or any("(opérateur)" in t.value for t in at.text)


def test_login_form_says_wait_when_throttled(users):
    at = AppTest.from_file(APP, default_timeout=120).run()
    for _ in range(auth.FREE_FAILURES_PAIR + 1):
        at.text_input(key="auth_username").input("op")
        at.text_input(key="auth_password").input("bad-password")
        at.button[0].click().run()
    assert any("attendez" in e.value for e in at.error), [e.value for e in at.error]
