"""The signature and alert pages through Streamlit's AppTest: signing from History's session detail (typed name without
authentication, password typed again with it — refused when wrong), the Signature column, Home's waiting list, and
Paramètres › Alertes e-mail (no server: says so; the password never shown back)."""

from __future__ import annotations

import datetime as dt

from streamlit.testing.v1 import AppTest

from conftest import REPO

APP = str(REPO / "app.py")


def stored_sessions(qc_data_dir, n: int = 2) -> list[int]:
    from qc import pipeline
    from qc.records.storage import open_store
    from qc.registry import get_test

    ids = []
    with open_store(qc_data_dir) as s:
        m = s.machine(s.add_machine("Unity A"))
        for i in range(n):
            a = pipeline.record_logged(s, get_test("helium", s), m, {"helium_level_pct": str(80 - i)},
                                       acquired_at=dt.datetime.now() - dt.timedelta(days=10 - i))
            ids.append(pipeline.store_analysis(s, a, operator="AG"))
    return ids


def start(**state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["lang"] = "fr"
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def submit(at: AppTest, form: str, label: str) -> None:
    at.button[[b.key for b in at.button].index(f"FormSubmitter:{form}-{label}")].click().run()


def test_sign_without_authentication_uses_the_typed_name_and_says_unverified(qc_data_dir):
    first, second = stored_sessions(qc_data_dir)
    at = start(operator="Marie Curie")
    assert any("2 résultat(s) attendent une signature" in e.label for e in at.expander)  # Home lists them
    at.switch_page("pages/history.py").run()
    at.query_params["session"] = str(second)
    at.run()
    assert any("À signer" in i.value for i in at.info)
    at.radio(key=f"sig_kind_{second}").set_value("approved")
    at.text_input(key=f"sig_comment_{second}").input("valeurs conformes")
    submit(at, f"sig_form_{second}", "Signer")
    assert not at.exception
    (ok,) = [s.value.replace("\\", "") for s in at.success]  # markdown-escaped user text
    assert ok.startswith("Approuvé par Marie Curie le ") and ok.endswith("(non vérifiée par mot de passe)")
    at.selectbox(key="hist_test").set_value("helium").run()
    table = next(d.value for d in at.dataframe if "Signature" in d.value.columns)
    by_session = dict(zip(table["Séance"].astype(int), table["Signature"]))
    assert by_session[first] == "À signer" and by_session[second].startswith("Approuvé par Marie Curie")
    at.switch_page("pages/home.py").run()
    assert any("1 résultat(s) attendent une signature" in e.label for e in at.expander)


def test_a_wrong_password_is_refused_on_the_page(qc_data_dir, monkeypatch):
    from qc.records import auth
    from qc.records.storage import open_store

    (sid,) = stored_sessions(qc_data_dir, 1)
    monkeypatch.setenv("QC_AUTH", "password")
    with open_store(qc_data_dir) as s:
        auth.add_user(s, "marie", "Marie Curie", "physicist", "Right-Pa55word", by="admin")
        user, _ = auth.authenticate(s, "marie", "Right-Pa55word")
    at = start(auth_user=user)
    at.switch_page("pages/history.py").run()
    at.query_params["session"] = str(sid)
    at.run()
    at.text_input(key=f"sig_password_{sid}").input("wrong-password")
    submit(at, f"sig_form_{sid}", "Signer")
    assert "Signature refusée : mot de passe incorrect." in [e.value for e in at.error]
    with open_store(qc_data_dir) as s:
        assert s.db["session_signatures"].count == 0
    at.text_input(key=f"sig_password_{sid}").input("Right-Pa55word")
    submit(at, f"sig_form_{sid}", "Signer")
    assert not at.error
    assert any(i.value.startswith("Relu par Marie Curie le ") and "non vérifiée" not in i.value for i in at.info), [i.value for i in at.info]


def test_alerts_settings_without_a_server_say_so_and_never_show_the_password(qc_data_dir):
    from qc.records.storage import open_store

    stored_sessions(qc_data_dir, 1)
    at = start(operator="Admin")
    at.switch_page("pages/settings.py").run()
    assert "Aucun serveur d'e-mail n'est configuré : aucune alerte n'est envoyée." in [w.value for w in at.warning]
    at.text_input(key="set_al_host").input("smtp.hopital.test")
    at.text_input(key="set_al_sender").input("cq@hopital.test")
    at.text_input(key="set_al_password").input("Secret-Pa55")
    submit(at, "set_alerts_server", "Enregistrer")
    assert not at.exception
    assert at.text_input(key="set_al_password").value == ""  # never shown back
    assert any("serveur smtp.hopital.test:587" in s.value.replace("\\", "") for s in at.success), [s.value for s in at.success]
    with open_store(qc_data_dir) as s:
        assert s.get_setting("alerts.smtp.password") == "Secret-Pa55"
        assert "Secret-Pa55" not in s.audit_frame().to_csv()
