"""Review and signature of each result: password typed again (refused when wrong), never edited (a new one supersedes),
the rule without authentication, notes on one leaf, what waits for a signature."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from qc import pipeline
from qc.errors import QCInputError
from qc.records import auth, signatures
from qc.registry import get_test

WHEN = dt.datetime(2026, 11, 3, 8, 30)


def helium(store, machine, level: str = "80", when: dt.datetime = WHEN, **kw) -> int:
    analysis = pipeline.record_logged(store, get_test("helium", store), machine, {"helium_level_pct": level}, acquired_at=when)
    return pipeline.store_analysis(store, analysis, operator="Anne", **kw)


@pytest.fixture
def marie(store, monkeypatch) -> dict:
    monkeypatch.setenv("QC_AUTH", "password")
    auth.add_user(store, "marie", "Marie Curie", "physicist", "Right-Pa55word", email="m@h.test", by="admin")
    user, _ = auth.authenticate(store, "marie", "Right-Pa55word")
    return user


def test_a_wrong_password_is_refused_and_nothing_is_stored(store, machine, marie):
    sid = helium(store, machine)
    gid, reason = signatures.sign(store, sid, "approved", user=marie, password="not-her-password", comment="ok")
    assert (gid, reason) == (None, "wrong")
    assert signatures.current_signature(store, sid) is None
    audit = store.audit_frame()
    assert "sign_refused" in set(audit["action"]) and "sign_session" not in set(audit["action"])


def test_the_right_password_signs_verified_under_the_users_own_name(store, machine, marie):
    sid = helium(store, machine)
    gid, reason = signatures.sign(store, sid, "reviewed", user=marie, password="Right-Pa55word", comment="vu", typed_name="someone else")
    assert reason == "" and gid
    sig = signatures.current_signature(store, sid)
    assert (sig["kind"], sig["signer"], sig["username"], sig["verified"], sig["comment"]) == ("reviewed", "Marie Curie", "marie", 1, "vu")
    assert signatures.signature_text(sig, "fr").startswith("Relu par Marie Curie le ")
    assert "non vérifiée" not in signatures.signature_text(sig, "fr")


def test_an_operator_cannot_sign(store, machine, marie):
    auth.add_user(store, "op", "Op", "operator", "Op-Pa55word", by="admin")
    op, _ = auth.authenticate(store, "op", "Op-Pa55word")
    sid = helium(store, machine)
    assert signatures.sign(store, sid, "reviewed", user=op, password="Op-Pa55word") == (None, "role")


def test_a_signature_is_never_edited_a_new_one_supersedes_it(store, machine, marie):
    sid = helium(store, machine)
    first, _ = signatures.sign(store, sid, "reviewed", user=marie, password="Right-Pa55word")
    second, _ = signatures.sign(store, sid, "approved", user=marie, password="Right-Pa55word", comment="corrigé")
    rows = signatures.signatures(store, sid)
    assert [(r["kind"], r["superseded"], r["supersedes"]) for r in rows] == [("reviewed", 1, None), ("approved", 0, first)]
    assert signatures.current_signature(store, sid)["id"] == second
    assert signatures.current_signatures(store, [sid])[sid]["id"] == second
    with pytest.raises(sqlite3.DatabaseError, match="never edited"):
        store.db.execute("update session_signatures set kind = 'reviewed' where id = ?", [second])
    with pytest.raises(sqlite3.DatabaseError, match="never edited"):
        store.db.execute("delete from session_signatures where id = ?", [first])


def test_without_authentication_the_typed_name_signs_marked_unverified(store, machine):
    sid = helium(store, machine)
    assert signatures.sign(store, sid, "approved", user=None, typed_name="  ") == (None, "name")
    gid, reason = signatures.sign(store, sid, "approved", user=None, typed_name="J. Dupont", password="ignored")
    assert reason == ""
    sig = signatures.current_signature(store, sid)
    assert (sig["signer"], sig["verified"]) == ("J. Dupont", 0)
    assert signatures.signature_text(sig, "fr").endswith("(non vérifiée par mot de passe)")
    assert signatures.signature_text(sig, "en").endswith("(not verified by a password)")


def test_voided_and_pending_sessions_are_not_signed(store, machine):
    voided = helium(store, machine)
    store.void_session(voided, "wrong phantom", "x")
    with pytest.raises(QCInputError) as e:
        signatures.sign(store, voided, "approved", user=None, typed_name="J")
    assert e.value.key == "sig.err.voided"
    pending = helium(store, machine, when=WHEN + dt.timedelta(days=1), review_state="pending")
    with pytest.raises(QCInputError) as e:
        signatures.sign(store, pending, "approved", user=None, typed_name="J")
    assert e.value.key == "sig.err.pending"


def test_results_waiting_for_a_signature(store, machine):
    a = helium(store, machine)
    b = helium(store, machine, when=WHEN + dt.timedelta(days=1))
    assert [r["id"] for r in signatures.awaiting_signature(store)] == [b, a]
    signatures.sign(store, b, "reviewed", user=None, typed_name="J")
    assert [r["id"] for r in signatures.awaiting_signature(store)] == [a]
    assert signatures.count_awaiting_signature(store) == 1


def test_a_note_on_one_leaf(store, machine):
    sid = helium(store, machine)
    cid = signatures.add_leaf_comment(store, sid, "helium_level_pct", "", "lecture console à revérifier", "Marie")
    (note,) = signatures.leaf_comments(store, sid)
    assert (note["id"], note["metric"], note["text"], note["user"]) == (cid, "helium_level_pct", "lecture console à revérifier", "Marie")
    with pytest.raises(QCInputError) as e:
        signatures.add_leaf_comment(store, sid, "no_such_metric", "", "x", "Marie")
    assert e.value.key == "sig.err.no_leaf"


def test_signatures_and_leaf_notes_are_in_the_pdfs(store, machine):
    from pypdf_text import pdf_text
    from qc.reporting.report import monthly_report_pdf, session_report_pdf

    signed = helium(store, machine, "60")
    unsigned = helium(store, machine, "81", when=WHEN + dt.timedelta(days=7))
    signatures.sign(store, signed, "reviewed", user=None, typed_name="J. Dupont")
    signatures.sign(store, signed, "approved", user=None, typed_name="Marie Curie", comment="remplissage prévu")
    signatures.add_leaf_comment(store, signed, "helium_level_pct", "", "lu deux fois", "Marie Curie")
    text = " ".join(pdf_text(session_report_pdf(store, signed, "fr")).split())
    assert "Approuvé par Marie Curie le" in text and "(non vérifiée par mot de passe) — remplissage prévu" in text
    assert "Relu par J. Dupont le" in text and "remplacée" in text
    assert "Marie Curie — Niveau d'hélium : lu deux fois" in text
    monthly = " ".join(pdf_text(monthly_report_pdf(store, machine["id"], "2026-11", "fr")).split())
    assert "Approuvé —" in monthly and "Marie Curie" in monthly, monthly[-900:]
    assert "À signer" in monthly  # the unsigned session of the month
    assert unsigned
