"""Access control for the shared server: roles, hashed passwords, login throttling; an operator cannot reach
Settings nor sign a report (AppTest with QC_AUTH=password)."""

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
    with open_store(qc_data_dir) as s:
        s.add_machine("Unity A")
        auth.add_user(s, "op", "Opé Rateur", "operator", "op-secret-1", by="test")
        auth.add_user(s, "phys", "Phy Sicien", "physicist", "phys-secret-1", by="test")
        auth.add_user(s, "adm", "Ad Min", "admin", "adm-secret-1", by="test")
    return qc_data_dir


def login(username: str, password: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.text_input(key="auth_username").input(username)
    at.text_input(key="auth_password").input(password)
    at.button[0].click().run()
    return at


def test_password_hashing_and_permissions():
    h = auth.hash_password("correct horse")
    assert h.startswith("scrypt$") and "correct horse" not in h
    assert auth.verify_password("correct horse", h) and not auth.verify_password("wrong horse", h)
    assert auth.hash_password("correct horse") != h  # salted
    with pytest.raises(ValueError):
        auth.hash_password("short")
    assert auth.can("operator", "record") and not auth.can("operator", "sign") and not auth.can("operator", "tolerances")
    assert auth.can("physicist", "sign") and auth.can("physicist", "void") and not auth.can("physicist", "users")
    assert auth.can("admin", "users") and not auth.can(None, "view")


def test_wrong_passwords_slow_the_account_down(users):
    # Throttling replaced the 5-failure lock (issue 18): see tests/test_security_auth.py.
    with open_store(users) as s:
        for _ in range(auth.FREE_FAILURES_PAIR):
            assert auth.authenticate(s, "op", "nope-nope")[1] == "wrong"
        assert auth.authenticate(s, "op", "op-secret-1") == (None, "throttled")
        assert auth.authenticate(s, "ghost", "whatever1")[1] == "wrong"  # unknown users answer alike
        actions = s.audit_frame()["action"].tolist()
        assert actions.count("login_failed") == auth.FREE_FAILURES_PAIR + 1


def test_nothing_shows_before_login(users):
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert at.text_input(key="auth_username") is not None
    assert not any("Tableau de bord" in t.value for t in at.title)
    at.text_input(key="auth_username").input("op")
    at.text_input(key="auth_password").input("bad-password")
    at.button[0].click().run()
    assert any("incorrect" in e.value for e in at.error)


def test_operator_cannot_reach_settings_nor_sign(users):
    at = login("op", "op-secret-1")
    assert not at.exception
    assert any("Tableau de bord QC" == t.value for t in at.title)
    assert any("Opé Rateur (opérateur)" in t.value for t in at.text)
    with pytest.raises(ValueError):
        at.switch_page("pages/settings.py")  # not a registered page for an operator
    at.switch_page("pages/reports.py").run()
    assert not [b for b in at.button if "rep_sign_form" in (b.key or "")]
    assert any("Accès réservé" in c.value for c in at.caption)


def test_physicist_signs_and_records_under_their_name(users):
    at = login("phys", "phys-secret-1")
    at.switch_page("pages/settings.py").run()
    assert not at.exception and not at.error
    at.switch_page("pages/reports.py").run()
    submit = [b for b in at.button if "rep_sign_form" in (b.key or "")][0]
    submit.click().run()
    with open_store(users) as s:
        signs = s.db["signoffs"].rows
        assert [r["signed_by"] for r in signs] == ["Phy Sicien"]


def test_admin_adds_a_user_in_settings(users):
    at = login("adm", "adm-secret-1")
    at.switch_page("pages/settings.py").run()
    at.text_input(key="set_u_name").input("newbie")
    at.text_input(key="set_u_display").input("New Bie")
    at.text_input(key="set_u_password").input("newbie-pass-1")
    [b for b in at.button if "set_user_add" in (b.key or "")][0].click().run()
    assert not at.exception
    with open_store(users) as s:
        assert auth.authenticate(s, "newbie", "newbie-pass-1")[0]["role"] == "operator"
        assert "add_user" in s.audit_frame()["action"].tolist()


def test_first_admin_is_created_from_the_cli(qc_data_dir):
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "qc", "add-user", "chief", "--role", "admin", "--name", "Chef", "--password-stdin"],
                         cwd=REPO, input="chief-secret-1\n", capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    with open_store(qc_data_dir) as s:
        user, _ = auth.authenticate(s, "chief", "chief-secret-1")
        assert user["role"] == "admin" and user["display_name"] == "Chef"
    again = subprocess.run([sys.executable, "-m", "qc", "add-user", "chief", "--role", "admin", "--password-stdin"],
                           cwd=REPO, input="chief-secret-1\n", capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "exists" in again.stderr
