"""`python -m qc`: the command-line face; bad input is one line on stderr with exit code 2, nothing stored."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
import zipfile

import pytest

from conftest import REPO, blank_rt_image, copy_demo, shared_file


def qc(*args: str, env_dir=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qc", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def counts(data_dir) -> dict:
    from qc.records.storage import Store

    with Store(data_dir) as s:
        return s.counts()


def test_tests_lists_every_test_built():
    from qc.registry import builtin_tests

    out = qc("tests", "--json")
    assert out.returncode == 0, out.stderr
    keys = [t["key"] for t in json.loads(out.stdout)]
    assert keys == [t.key for t in builtin_tests()]
    assert {"helium", "couch", "laser", "quasar", "safety", "piqt"} <= set(keys)


def test_not_a_dicom_exits_2_with_one_line(tmp_path, qc_data_dir):
    bad = tmp_path / "not_a_dicom.txt"
    bad.write_text("bonjour")
    for test in ("piqt",) + tuple(k for k in ("field", "leaves", "slits") if _has(k)):
        out = qc("analyse", test, str(bad))
        assert out.returncode == 2, (test, out.stdout, out.stderr)
        assert out.stdout == ""
        assert len(out.stderr.strip().splitlines()) == 1 and "not_a_dicom.txt" in out.stderr


def _has(key: str) -> bool:
    from qc.registry import builtin_tests

    return key in {t.key for t in builtin_tests()}


@pytest.fixture
def mv_test() -> str:
    for key in ("field", "leaves", "slits"):
        if _has(key):
            return key
    pytest.skip("no MV image test registered yet")


def test_bad_inputs_each_get_their_own_message_and_nothing_is_stored(tmp_path, qc_data_dir, mv_test):
    qc("add-machine", "Unity A")
    before = counts(qc_data_dir)
    good = blank_rt_image(0.5)
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(good[: len(good) // 3])
    empty = tmp_path / "vide.zip"
    zipfile.ZipFile(empty, "w").close()
    mr = shared_file("hazen", "uniformity", "axial_oil.IMA")
    messages = {}
    for name, path in (("truncated", cut), ("empty_zip", empty), ("mr", mr)):
        out = qc("analyse", mv_test, str(path), "--machine", "Unity A", "--store")
        assert out.returncode == 2, (name, out.stderr)
        messages[name] = out.stderr.strip()
    assert "tronqué" in messages["truncated"]
    assert "aucun fichier" in messages["empty_zip"]
    assert "MR" in messages["mr"] and "RTIMAGE" in messages["mr"]
    assert len(set(messages.values())) == 3
    assert counts(qc_data_dir) == before


def test_logged_value_stored_from_the_cli(qc_data_dir):
    qc("add-machine", "Unity A")
    out = qc("analyse", "couch", "--value", "couch_readout_1_cm=17,5", "--value", "couch_readout_2_cm=21,3", "--machine", "Unity A", "--store",
             "--json", "--operator", "AG")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["metrics"]["couch_deviation_mm"] == pytest.approx(-2.0)
    # −2.0 mm: beyond the ±1.5 mm tolerance, on the ±2 mm action limit (inclusive) → warning
    assert doc["statuses"]["couch_deviation_mm"] == "warning"
    assert doc["status"] == "warning"
    assert doc["session_id"] == 1
    out = qc("analyse", "couch", "--value", "couch_readout_1_cm=abc", "--machine", "Unity A", "--store")
    assert out.returncode == 2 and "abc" in out.stderr
    assert counts(qc_data_dir)["sessions"] == 1


def test_piqt_json_has_every_measure_in_items_and_failing_count(tmp_path):
    from qc.synthetic.piqt import demo_report

    path = tmp_path / "report.htm"
    path.write_bytes(demo_report(dt.datetime(2026, 10, 7, 8, 0), seed=3))
    out = qc("analyse", "piqt", str(path), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["test"] == "piqt"
    assert len(doc["items"]) > 40
    assert doc["metrics"]["n_failing"] == sum(1 for it in doc["items"] if it.get("status") in ("fail", "not_measured"))
    assert doc["metrics"]["n_failing"] >= 1 and doc["status"] == "fail"


def test_duplicate_store_is_refused_unless_allowed(tmp_path, qc_data_dir):
    from qc.synthetic.piqt import demo_report

    qc("add-machine", "Unity A")
    path = tmp_path / "r.htm"
    path.write_bytes(demo_report(dt.datetime(2026, 10, 7, 8, 0), seed=3))
    assert qc("analyse", "piqt", str(path), "--machine", "Unity A", "--store").returncode == 0
    again = qc("analyse", "piqt", str(path), "--machine", "Unity A", "--store")
    assert again.returncode == 2 and "déjà enregistré" in again.stderr
    assert counts(qc_data_dir)["sessions"] == 1
    assert qc("analyse", "piqt", str(path), "--machine", "Unity A", "--store", "--allow-duplicate").returncode == 0
    assert counts(qc_data_dir)["sessions"] == 2


def test_demo_export_and_report(tmp_path, qc_data_dir, demo_build):
    # `python -m qc demo` is the command that built the test run's demo database (conftest's demo_build, run once):
    # its exit code and its sentence are checked here, then a copy of what it built is exported and reported.
    template, out = demo_build
    assert out.returncode == 0, out.stderr
    n = counts(template)["sessions"]
    assert n > 50 and f"{n} séances" in out.stdout and str(template) in out.stdout, out.stdout
    copy_demo(template, qc_data_dir)
    csv_path = tmp_path / "helium.csv"
    out = qc("export", "--test", "helium", "--from", "2000-01-01", "--to", "2100-01-01", "--format", "csv", "-o", str(csv_path))
    assert out.returncode == 0, out.stderr
    import pandas as pd

    # French Excel dialect by default: ";" and decimal comma, labelled columns, statuses as words.
    df = pd.read_csv(csv_path, encoding="utf-8-sig", sep=";", decimal=",")
    assert set(df["Test"]) == {"Niveau hélium"} and {"Valeur", "Statut", "Tolérance basse", "Opérateur"} <= set(df.columns)
    assert df["Valeur"].dtype.kind == "f" and set(df["Statut"]) <= {"Conforme", "Alerte", "Non conforme", "Non mesuré", "Sans tolérance"}
    out = qc("export", "--test", "helium", "--dialect", "en", "--format", "csv", "-o", str(csv_path))
    assert out.returncode == 0, out.stderr
    en = pd.read_csv(csv_path, encoding="utf-8-sig")
    assert len(en) == len(df) and en["Valeur"].tolist() == df["Valeur"].tolist()
    month = (dt.date.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    pdf = tmp_path / "r.pdf"
    from qc.demo import DEMO_MACHINE

    out = qc("report", "--machine", DEMO_MACHINE, "--month", month, "-o", str(pdf))
    assert out.returncode == 0, out.stderr
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_unknown_test_and_unknown_machine(qc_data_dir):
    out = qc("analyse", "nope", "x.dcm")
    assert out.returncode == 2 and "nope" in out.stderr
    out = qc("analyse", "couch", "--value", "couch_readout_1_cm=1", "--machine", "Ghost", "--store")
    assert out.returncode == 2 and "Ghost" in out.stderr
