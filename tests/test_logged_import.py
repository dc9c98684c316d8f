"""Import of a logged test's history from CSV / Excel (qc.intake.history_import): French and English CSV,
.xlsx, every bad row reported with its line and column and nothing stored, dates required and never
guessed, each row judged by the tolerance in force on its own date, duplicates refused unless
confirmed, hostile text stored as text and neutralised on export, bounded input; the CLI's exit codes;
the page's expander (AppTest)."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
import zipfile

import openpyxl
import pytest

from conftest import REPO
from qc.errors import QCInputError
from qc.intake import history_import as li
from qc.tolerances import Tolerance
from qc.registry import get_test

NOW = dt.datetime(2026, 10, 12, 8, 0)
HOSTILE = "=cmd|' /C calc'!A0"

FR_CSV = (
    "Date (jj/mm/aaaa);Translation X (mm);Translation Y (mm);Translation Z (mm);Rotation (Phi) (°);"
    "Date du dernier étalonnage IRM–MV;Opérateur;Commentaire\r\n"
    "15/01/2026;0,3;-0,2;0,4;0,1;2025-12-01;AG;RAS\r\n"
    "12/02/2026 08:30;0,6;0,5;0;;;MB;\r\n"
    f"12/03/2026;0,9;0,2;0,5;-0,05;2026-03-10;CL;\"{HOSTILE}\"\r\n"
)
EN_CSV = (
    "Date,translation x,TRANSLATION Y (mm),mrmv_z_mm,Operator,Comment\n"
    "2026-01-15,0.3,-0.2,0.4,AG,ok\n"
    "2026-02-12 08:30,0.6,0.5,0,MB,\n"
)


def plan(store, machine, text_or_bytes, name="history.csv", test="mr_mv", lang="fr"):
    data = text_or_bytes.encode("utf-8-sig") if isinstance(text_or_bytes, str) else text_or_bytes
    return li.plan_import(store, get_test(test, store), machine, name, data, lang=lang, now=NOW)


def n_sessions(store) -> int:
    return store.db["sessions"].count


# ------------------------------------------------------------------ formats


def test_french_csv_is_imported_judged_and_stored(store, machine):
    p = plan(store, machine, FR_CSV)
    assert p.ok, p.errors
    assert [r.line for r in p.rows] == [2, 3, 4]
    assert [r.status for r in p.rows] == ["pass", "warning", "fail"]  # 0.54 mm; 0.6/0.5 mm ≥ 0.75? no: distance 0.78 → warning; 1.05 mm → fail
    assert p.rows[1].acquired_at == dt.datetime(2026, 2, 12, 8, 30)
    d = p.rows[0].analysis.result.measurement("mrmv_distance_mm").value
    assert d == pytest.approx((0.3**2 + 0.2**2 + 0.4**2) ** 0.5, abs=1e-6)
    ids = li.store_import(store, p, user="phys")
    assert len(ids) == 3 and n_sessions(store) == 3
    s = store.session(ids[0])
    assert s["operator"] == "AG" and s["comment"] == "RAS" and s["acquired_at"].startswith("2026-01-15")
    assert s["params"]["texts"]["mrmv_last_calibration"] == "2025-12-01"
    audit = list(store.db.query("select * from audit where action = 'import_logged'"))
    assert len(audit) == 1 and json.loads(audit[0]["details"])["sessions"] == ids and audit[0]["user"] == "phys"


def test_english_csv_with_keys_and_lowercase_labels(store, machine):
    p = plan(store, machine, EN_CSV.encode("utf-8"), lang="en")
    assert p.ok, p.errors
    assert [r.analysis.result.measurement("mrmv_x_mm").value for r in p.rows] == [0.3, 0.6]
    assert p.rows[0].operator == "AG"


def test_latin1_csv_from_a_french_excel(store, machine):
    text = "Date;Translation X;Translation Y;Translation Z;Opérateur;Remarque\n15/01/2026;0,3;0;0;Hélène;contrôlé\n"
    p = plan(store, machine, text.encode("cp1252"))
    assert p.ok, p.errors
    assert p.rows[0].operator == "Hélène" and p.rows[0].comment == "contrôlé"


def test_template_headers_round_trip_in_both_languages(store, machine):
    spec = get_test("mr_mv", store)
    for lang, sep, date in (("fr", ";", "15/01/2026"), ("en", ",", "2026-01-15")):
        header = li.template_bytes(spec, lang).decode("utf-8-sig").strip()
        assert header.split(sep)[0] == ("Date (jj/mm/aaaa)" if lang == "fr" else "Date (dd/mm/yyyy)")
        row = sep.join([date, "0.1", "0.2", "0.3", "", "", "AG", ""])
        p = plan(store, machine, header + "\n" + row + "\n", lang=lang)
        assert p.ok, p.errors
        assert p.rows[0].status == "pass"


def xlsx_bytes(rows: list[list], extra_sheet: bool = False) -> bytes:
    """A workbook; a string cell starting with "=" is a formula unless written as `("text", value)`
    (what Excel stores when the user types '=... with an apostrophe)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "MR-MV"
    for i, r in enumerate(rows, start=1):
        for j, v in enumerate(r, start=1):
            if isinstance(v, tuple):
                c = ws.cell(i, j, v[1])
                c.data_type = "s"
            else:
                ws.cell(i, j, v)
    if extra_sheet:
        wb.create_sheet("2024").append(["Date", "Translation X"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_xlsx_with_date_cells_numbers_and_a_serial_date(store, machine):
    data = xlsx_bytes([
        ["Date", "Translation X (mm)", "Translation Y (mm)", "Translation Z (mm)", "Commentaire"],
        [dt.datetime(2026, 1, 15, 9, 0), 0.3, -0.2, 0.4, ("text", HOSTILE)],
        [dt.date(2026, 2, 12), 0.6, 0.5, 0, None],
        [46093, 0.1, 0.1, 0.1, "date as a serial number"],  # 46093 = 2026-03-12 in Excel's calendar
    ], extra_sheet=True)
    p = plan(store, machine, data, name="history.xlsx")
    assert p.ok, p.errors
    assert [r.acquired_at for r in p.rows] == [dt.datetime(2026, 1, 15, 9, 0), dt.datetime(2026, 2, 12), dt.datetime(2026, 3, 12)]
    assert p.rows[0].comment == HOSTILE
    assert any("2024" in n for n in p.notes)  # the sheet not read is named, not silently dropped


def test_xlsx_formula_without_a_computed_value_is_reported(store, machine):
    data = xlsx_bytes([["Date", "Translation X", "Translation Y", "Translation Z", "Commentaire"], ["2026-01-15", 0.3, 0.1, "=B2*2", HOSTILE]])
    p = plan(store, machine, data, name="h.xlsx")
    assert not p.ok
    assert len(p.errors) == 2
    assert p.errors[0].startswith("Ligne 2, colonne « Translation Z » : ") and p.errors[1].startswith("Ligne 2, colonne « Commentaire » : ")
    assert all("formule sans valeur calculée" in e for e in p.errors)


# ------------------------------------------------------------------ all or nothing


def test_every_bad_row_is_reported_with_its_line_and_column_and_nothing_is_stored(store, machine):
    text = (
        "Date;Translation X (mm);Translation Y (mm);Translation Z (mm)\n"
        "15/01/2026;0,3;0;0\n"  # good
        "16/01/2026;abc;0;0\n"  # not a number
        "17/01/2026;0;25;0\n"  # impossible (±20 mm)
        "\n"  # empty line: skipped, still counted
        "18/01/2026;0;0;\n"  # required
        ";0;0;0\n"  # no date
        "19/01/2026;0;0;0\n"  # good
    )
    p = plan(store, machine, text)
    assert not p.ok
    assert p.errors == [
        "Ligne 3, colonne « Translation X (mm) » : « abc » n'est pas un nombre (par exemple 12,5 ou 12.5).",
        "Ligne 4, colonne « Translation Y (mm) » : 25 mm est impossible (valeurs admises de -20 à 20 mm). Vérifiez la valeur.",
        "Ligne 6, colonne « Translation Z (mm) » : la valeur est obligatoire : saisissez-la.",
        "Ligne 7, colonne « Date » : la date est vide : chaque mesure doit être datée (jj/mm/aaaa).",
    ]
    with pytest.raises(QCInputError) as info:
        li.store_import(store, p, user="phys")
    assert "rien n'a été enregistré" in info.value.message("fr")
    assert n_sessions(store) == 0


def test_a_database_failure_mid_import_stores_nothing(store, machine, monkeypatch):
    from qc import pipeline

    p = plan(store, machine, FR_CSV)
    real = pipeline.store_analysis
    calls = []

    def flaky(*a, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(*a, **kw)

    monkeypatch.setattr(pipeline, "store_analysis", flaky)
    with pytest.raises(Exception):
        li.store_import(store, p, user="phys")
    assert n_sessions(store) == 0
    assert not list(store.db.query("select * from audit where action = 'import_logged'"))
    # the store is usable afterwards (the transaction was closed)
    monkeypatch.setattr(pipeline, "store_analysis", real)
    assert len(li.store_import(store, plan(store, machine, FR_CSV), user="phys")) == 3


def test_nested_write_joins_the_outer_transaction(store, machine):
    with pytest.raises(RuntimeError):
        with store.write():
            store.add_event(machine["id"], "2026-01-01", "service", "a")
            raise RuntimeError("boom")
    assert store.events(machine["id"]).empty


# ------------------------------------------------------------------ dates


@pytest.mark.parametrize(
    "cell, expected",
    [
        ("15/01/2026", dt.datetime(2026, 1, 15)),
        ("15.01.2026 08:30", dt.datetime(2026, 1, 15, 8, 30)),
        ("2026-01-15", dt.datetime(2026, 1, 15)),
        ("2026-01-15T08:30:12", dt.datetime(2026, 1, 15, 8, 30, 12)),
        ("03/04/2026", dt.datetime(2026, 4, 3)),  # day first, always: never swapped
    ],
)
def test_dates_read(cell, expected):
    assert li.parse_date_cell(cell, "csv", NOW) == expected


@pytest.mark.parametrize("cell, key", [
    ("", "imp.err.date_missing"), (None, "imp.err.date_missing"), ("04/13/2026", "imp.err.date_bad"), ("15/01/26", "imp.err.date_two_digit_year"),
    ("janvier 2026", "imp.err.date_bad"), ("2026-12-01", "imp.err.date_future"), ("46094", "imp.err.date_bad"), ("31/02/2026", "imp.err.date_bad"),
])
def test_dates_never_guessed(cell, key):
    with pytest.raises(QCInputError) as info:
        li.parse_date_cell(cell, "csv", NOW)
    assert info.value.key == key


def test_a_file_without_a_date_column_is_refused(store, machine):
    p = plan(store, machine, "Translation X;Translation Y;Translation Z\n0;0;0\n")
    assert not p.ok and p.errors[0].startswith("Aucune colonne de date")
    assert not p.rows


# ------------------------------------------------------------------ tolerance in force on each row's date


def test_each_row_is_judged_by_the_tolerance_in_force_on_its_date(store, machine):
    store.set_tolerance("mr_mv", "mrmv_x_mm", Tolerance(act_low=-0.5, tol_low=-0.4, tol_high=0.4, act_high=0.5, reference="tighter from March"),
                        unit="mm", valid_from="2026-03-01", user="phys")
    p = plan(store, machine, "Date;Translation X;Translation Y;Translation Z\n15/02/2026;0,7;0;0\n15/03/2026;0,7;0;0\n")
    assert p.ok, p.errors
    before, after = ({j.name: j for j in r.analysis.judged}["mrmv_x_mm"] for r in p.rows)
    assert before.status == "pass" and before.bounds[3] == 1.0  # old ±1 mm (alert 0.75)
    assert after.status == "fail" and after.bounds[3] == 0.5
    ids = li.store_import(store, p, user="phys")
    stored = {r["session_id"]: r for r in store.db.query("select session_id, status, act_high from metrics where name = 'mrmv_x_mm'")}
    assert [stored[i]["act_high"] for i in ids] == [1.0, 0.5]


def test_helium_rate_sees_the_files_earlier_rows(store, machine):
    text = "Date;Niveau d'hélium (%)\n01/09/2026;80\n08/09/2026;79,5\n15/09/2026;79\n22/09/2026;95\n"
    p = plan(store, machine, text, test="helium")
    assert p.ok, p.errors
    rates = [{m.name: m.value for m in r.analysis.result.measurements}.get("helium_decline_pct_per_week") for r in p.rows]
    assert rates[0] is None  # one reading: no rate yet
    assert rates[1] == pytest.approx(-0.5, abs=1e-9) and rates[2] == pytest.approx(-0.5, abs=1e-9)
    assert "refill" in p.rows[3].analysis.result.params["events"]


def test_failed_item_needs_its_comment_column(store, machine):
    spec = get_test("safety", store)
    header = li.template_bytes(spec, "fr").decode("utf-8-sig").strip()
    cols = header.split(";")
    row = ["15/01/2026"] + ["Conforme", ""] * 6 + ["AG", ""]
    row[3] = "Non conforme"  # the second item (Arrêts d'urgence), its comment empty
    p = plan(store, machine, header + "\n" + ";".join(row) + "\n", test="safety")
    assert p.errors == ["Ligne 2, colonne « Arrêts d'urgence » : non conforme : un commentaire est obligatoire (colonne « Arrêts d'urgence — commentaire »)."]
    row[4] = "bouton 2 remplacé"
    p = plan(store, machine, header + "\n" + ";".join(row) + "\n", test="safety")
    assert p.ok and p.rows[0].status == "fail" and cols[4] == "Arrêts d'urgence — commentaire"
    row[3] = "peut-être"
    p = plan(store, machine, header + "\n" + ";".join(row) + "\n", test="safety")
    assert "n'est pas un verdict" in p.errors[0]


# ------------------------------------------------------------------ columns


def test_unknown_columns_are_reported_never_dropped(store, machine):
    p = plan(store, machine, "Date;Translation X;Translation Y;Translation Z;Visa physicien;Vide\n15/01/2026;0;0;0;JD;\n")
    assert [e for e in p.errors if "Visa physicien" in e]
    assert any("« Vide »" in n for n in p.notes)  # an unknown column with no value: a note, nothing is lost
    assert not [e for e in p.errors if "Vide" in e]


def test_a_different_unit_is_refused_and_a_derived_column_is_noted(store, machine):
    text = ("Date;Lecture de la chambre;Température;Pression (hPa);Lecture de référence (corrigée);Écart à la référence (%)\n"
            "15/01/2026;20,1;21;1013;20;0,5\n")
    p = plan(store, machine, text, test="output")
    assert any("Pression (hPa)" in e and "kPa" in e for e in p.errors)
    assert any("recalculé" in n for n in p.notes)


def test_comma_separated_file_with_decimal_commas_is_explained(store, machine):
    p = plan(store, machine, "Date,Translation X,Translation Y,Translation Z\n15/01/2026,0,3,0,0\n")
    assert p.errors and "séparateur" in p.errors[0] and p.errors[0].startswith("Ligne 2")


# ------------------------------------------------------------------ duplicates


def test_duplicates_refused_unless_confirmed(store, machine):
    li.store_import(store, plan(store, machine, FR_CSV), user="phys")
    grown = FR_CSV + "12/04/2026;0,1;0,1;0,1;;;AG;\r\n12/04/2026;0,1;0,1;0,1;;;AG;\r\n"
    p = plan(store, machine, grown)
    assert p.ok
    assert [r.duplicate for r in p.rows] == ["Déjà enregistrée (séance n° 1)", "Déjà enregistrée (séance n° 2)",
                                             "Déjà enregistrée (séance n° 3)", "", "Identique à la ligne 5"]
    with pytest.raises(QCInputError) as info:
        li.store_import(store, p, user="phys")
    assert info.value.key == "imp.err.duplicates_unconfirmed" and n_sessions(store) == 3
    assert len(li.store_import(store, p, user="phys", skip_duplicates=True)) == 1
    assert n_sessions(store) == 4


def test_same_day_other_values_is_noted_and_kept(store, machine):
    li.store_import(store, plan(store, machine, FR_CSV), user="phys")
    p = plan(store, machine, "Date;Translation X;Translation Y;Translation Z\n15/01/2026;0,35;-0,2;0,4\n")
    assert p.ok and not p.duplicates
    assert any("15/01/2026" in n and "séance n° 1" in n for n in p.notes)


# ------------------------------------------------------------------ hostile text, limits


def test_formula_text_is_stored_as_text_and_neutralised_on_export(store, machine):
    from qc.records.export import export_metrics

    ids = li.store_import(store, plan(store, machine, FR_CSV), user="phys")
    assert store.session(ids[2])["comment"] == HOSTILE  # stored as typed, as text
    for fmt in ("csv", "xlsx"):
        data = export_metrics(store, test="mr_mv", fmt=fmt)
        if fmt == "csv":
            text = data.decode("utf-8-sig")
            assert "'" + HOSTILE in text and ";" + HOSTILE not in text and '"' + HOSTILE not in text
        else:
            ws = openpyxl.load_workbook(io.BytesIO(data)).active
            cells = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str) and "cmd" in c.value]
            assert cells and all(c.startswith("'=") for c in cells)


def test_markup_in_a_cell_stays_text(store, machine):
    text = "Date;Translation X;Translation Y;Translation Z;Commentaire\n15/01/2026;0;0;0;<script>alert(1)</script> **gras** [x](javascript:alert(1))\n"
    p = plan(store, machine, text)
    assert p.ok and p.rows[0].comment.startswith("<script>")


def test_size_and_row_limits(store, machine, monkeypatch):
    big = b"Date;Translation X\n" + b"15/01/2026;0\n" * (li.MAX_IMPORT_BYTES // 13 + 1)
    with pytest.raises(QCInputError) as info:
        plan(store, machine, big)
    assert info.value.key == "imp.err.too_large" and "5 Mo" in info.value.message("fr")
    monkeypatch.setattr(li, "MAX_IMPORT_ROWS", 3)
    with pytest.raises(QCInputError) as info:
        plan(store, machine, "Date;Translation X;Translation Y;Translation Z\n" + "15/01/2026;0;0;0\n" * 4)
    assert info.value.key == "imp.err.too_many_rows"
    with pytest.raises(QCInputError) as info:
        plan(store, machine, ";".join(f"c{i}" for i in range(li.MAX_IMPORT_COLUMNS + 1)) + "\n" + "1;" * 10 + "\n")
    assert info.value.key == "imp.err.too_many_columns"
    text = "Date;Translation X;Translation Y;Translation Z;Commentaire\n15/01/2026;0;0;0;" + "x" * (li.MAX_CELL_CHARS + 1) + "\n"
    assert "caractères" in plan(store, machine, text).errors[0]


def test_xlsx_that_inflates_past_the_limit_is_refused_before_openpyxl(store, machine, monkeypatch):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (2 * 1024**2))
    monkeypatch.setattr(li, "MAX_XLSX_INFLATED_BYTES", 1024**2)
    with pytest.raises(QCInputError) as info:
        plan(store, machine, buf.getvalue(), name="bomb.xlsx")
    assert info.value.key == "imp.err.too_large"


@pytest.mark.parametrize("name, data", [("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100), ("fake.xlsx", b"PK\x03\x04garbage"),
                                        ("empty.csv", b""), ("header_only.csv", b"Date;Translation X\n")])
def test_unreadable_files_are_one_sentence(store, machine, name, data):
    with pytest.raises(QCInputError) as info:
        plan(store, machine, data, name=name)
    assert name in info.value.message("fr")


# ------------------------------------------------------------------ CLI


def qc(data_dir, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qc", "--data-dir", str(data_dir), *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_cli_import_exit_codes(tmp_path, qc_data_dir):
    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity 1")
    good = tmp_path / "history.csv"
    good.write_text(FR_CSV, encoding="utf-8-sig")
    bad = tmp_path / "bad.csv"
    bad.write_text("Date;Translation X;Translation Y;Translation Z\n15/01/2026;abc;0;0\n;0;0;0\n", encoding="utf-8")

    out = qc(qc_data_dir, "import", "mr_mv", str(good), "--machine", "Unity 1", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "rien n'a été enregistré" in out.stdout
    out = qc(qc_data_dir, "import", "mr_mv", str(bad), "--machine", "Unity 1")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert lines[0].startswith("2 problème(s)") and lines[1].startswith("Ligne 2, colonne « Translation X »") and lines[2].startswith("Ligne 3")
    with open_store(qc_data_dir) as s:
        assert s.db["sessions"].count == 0

    out = qc(qc_data_dir, "--lang", "en", "import", "mr_mv", str(good), "--machine", "Unity 1", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert len(data["stored"]) == 3 and [r["status"] for r in data["rows"]] == ["pass", "warning", "fail"]
    out = qc(qc_data_dir, "import", "mr_mv", str(good), "--machine", "Unity 1")
    assert out.returncode == 2 and "--skip-duplicates" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    out = qc(qc_data_dir, "import", "mr_mv", str(tmp_path / "missing.csv"), "--machine", "Unity 1")
    assert out.returncode == 2 and "introuvable" in out.stderr
    out = qc(qc_data_dir, "import", "mr_mv", str(good), "--machine", "Unity 9")
    assert out.returncode == 2
    with open_store(qc_data_dir) as s:
        assert s.db["sessions"].count == 3


# ------------------------------------------------------------------ page


def _page_with_file(name: str, data: bytes, lang: str) -> None:
    import streamlit as st

    from pages.logged_import import show_plan
    from qc.records.storage import open_store
    from qc.registry import get_test

    st.session_state.setdefault("lang", lang)
    store = open_store()
    machine = store.machines()[0]
    show_plan(store, get_test("mr_mv", store), machine, name, data)


def test_page_expander_renders_on_the_mr_mv_page(qc_data_dir):
    from streamlit.testing.v1 import AppTest

    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity 1")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["lang"] = "fr"
    at.run()
    at.button(key="go_1_mr_mv").click().run()
    assert not at.exception
    assert [e.label for e in at.main.expander] == ["Importer un historique (CSV, Excel)"]  # the sidebar has the menu's folds
    assert not at.error


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_page_preview_and_store_button(qc_data_dir, lang):
    from streamlit.testing.v1 import AppTest

    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity 1")
    at = AppTest.from_function(_page_with_file, args=("history.csv", FR_CSV.encode("utf-8-sig"), lang), default_timeout=60)
    at.session_state["lang"] = lang
    at.session_state["operator"] = "AG"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    status_col = "Résultat" if lang == "fr" else "Result"
    assert len(table) == 3
    assert ("Non conforme" if lang == "fr" else "Fail") in table[status_col].iloc[2]
    assert not [c for c in table.columns if "_" in c]  # no code identifiers
    button = at.button[0]
    assert button.label == ("Enregistrer 3 entrées" if lang == "fr" else "Store 3 entries")
    button.click().run()
    assert any("3" in s.value for s in at.success), [s.value for s in at.success]
    with open_store(qc_data_dir) as s:
        assert s.db["sessions"].count == 3
        assert len(list(s.db.query("select * from audit where action = 'import_logged' and user = 'AG'"))) == 1
    at.run()  # a rerun: the file is reported stored, not offered again
    assert not at.button and any("3" in s.value for s in at.success)


def test_page_lists_the_errors_and_offers_no_button(qc_data_dir):
    from streamlit.testing.v1 import AppTest

    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity 1")
    bad = "Date;Translation X;Translation Y;Translation Z\n15/01/2026;abc;0;0\n16/01/2026;0;0;0\n".encode()
    at = AppTest.from_function(_page_with_file, args=("bad.csv", bad, "fr"), default_timeout=60)
    at.session_state["lang"] = "fr"
    at.run()
    assert not at.exception
    assert any("rien ne sera enregistré" in e.value for e in at.error)
    assert any("Ligne 2, colonne « Translation X »" in m.value.replace("\\", "") for m in at.markdown), [m.value for m in at.markdown]
    assert not at.button


def test_page_duplicates_need_the_checkbox(qc_data_dir):
    from streamlit.testing.v1 import AppTest

    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        m = s.machine(s.add_machine("Unity 1"))
        li.store_import(s, li.plan_import(s, get_test("mr_mv", s), m, "a.csv", FR_CSV.encode(), now=NOW), user="phys")
    grown = FR_CSV + "12/04/2026;0,1;0,1;0,1;;;AG;\r\n"
    at = AppTest.from_function(_page_with_file, args=("history.csv", grown.encode(), "fr"), default_timeout=60)
    at.session_state["lang"] = "fr"
    at.session_state["operator"] = "AG"
    at.run()
    assert any("Doublons : 3" in w.value for w in at.warning)
    assert at.button[0].label == "Enregistrer 1 entrée" and at.button[0].disabled
    at.checkbox[0].check().run()
    assert not at.button[0].disabled
    at.button[0].click().run()
    with open_store(qc_data_dir) as s:
        assert s.db["sessions"].count == 4


def test_page_never_renders_file_text_as_markup(qc_data_dir):
    from streamlit.testing.v1 import AppTest

    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        s.add_machine("Unity 1")
    hostile = "Date;Translation X;Translation Y;Translation Z;**gras** [lien](http://x) <script>alert(1)</script>\n15/01/2026;<b>x</b>;0;0;y\n"
    at = AppTest.from_function(_page_with_file, args=("<img src=x onerror=alert(1)>.csv", hostile.encode(), "fr"), default_timeout=60)
    at.session_state["lang"] = "fr"
    at.run()
    assert not at.exception
    shown = [e.value for e in list(at.markdown) + list(at.error) + list(at.info) + list(at.warning) + list(at.caption)]
    assert any("lien" in v for v in shown)  # the unknown column is reported ...
    for v in shown:  # ... but escaped: no raw markup reaches a markdown-rendering element
        assert "**gras**" not in v and "<script>" not in v and "<b>" not in v and "<img" not in v and "](http" not in v, v


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_preview_of_every_logged_test_shows_no_code_identifiers(store, machine, lang):
    """The template of each built-in logged test, filled with a value in range, previews without raw
    identifiers (the scan of tests/test_visible_text.py; the page's upload cannot be driven by AppTest)."""
    from pages.logged_import import preview_frame
    from qc.records.logged import BUILTIN_LOGGED
    from test_visible_text import problems_in_frame, problems_in_text

    sep = ";" if lang == "fr" else ","
    for test in BUILTIN_LOGGED:
        spec = get_test(test.key, store)
        header = li.template_bytes(spec, lang).decode("utf-8-sig").strip()
        cells = ["15/01/2026"]
        for f in test.fields:
            if f.kind == "number":
                lo = f.min if f.min is not None else 0.0
                hi = f.max if f.max is not None else lo + 2
                cells.append(str({"pressure_kpa": 101.3, "temperature_c": 21, "t0_c": 20, "p0_kpa": 101.325}.get(f.key, (lo + hi) / 2 if hi - lo < 1000 else 1)))
            elif f.kind == "passfail":
                cells += ["Conforme" if lang == "fr" else "Pass", ""]
            else:
                cells.append("remarque")
        cells += ["AG", "RAS"]
        p = plan(store, machine, header + "\n" + sep.join(cells) + "\n", test=test.key, lang=lang)
        assert p.ok, (test.key, p.errors)
        df = preview_frame(p, lang).drop(columns=["_status"])
        problems = problems_in_frame(df, f"import preview {test.key}", lang)
        problems += [x for text in p.notes for x in problems_in_text(text, f"note {test.key}", lang)]
        assert not problems, problems


# ------------------------------------------------------------------ audit


def test_helium_rate_of_a_grown_reimport_counts_each_stored_reading_once(store, machine):
    head = "Date;Niveau d'hélium (%)\n"
    rows = ["01/08/2026;90", "08/08/2026;89", "15/08/2026;88", "22/08/2026;87", "29/08/2026;86", "05/09/2026;85"]
    li.store_import(store, plan(store, machine, head + "\n".join(rows) + "\n", test="helium"), user="phys")
    p = plan(store, machine, head + "\n".join(rows + ["12/09/2026;80"]) + "\n", test="helium")
    assert [bool(r.duplicate) for r in p.rows] == [True] * 6 + [False]
    from qc import pipeline

    form = pipeline.record_logged(store, get_test("helium", store), machine, {"helium_level_pct": 80}, acquired_at=dt.datetime(2026, 9, 12))
    expected = form.result.measurement("helium_decline_pct_per_week").value
    assert expected == pytest.approx(-1.571429, abs=1e-6)  # slope of the last 6 readings, as the form gives it
    assert p.rows[-1].analysis.result.measurement("helium_decline_pct_per_week").value == pytest.approx(expected, abs=1e-9)


def _xlsx_with_sheet(edit) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Date", "Translation X", "Translation Y", "Translation Z"])
    ws.append(["15/01/2026", 0.1, 0.2, 0.3])
    buf = io.BytesIO()
    wb.save(buf)
    zin, out = zipfile.ZipFile(io.BytesIO(buf.getvalue())), io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info in zin.infolist():
            data = zin.read(info.filename)
            z.writestr(info, edit(data) if info.filename == "xl/worksheets/sheet1.xml" else data)
    return out.getvalue()


def test_xlsx_with_a_stale_dimension_reads_every_row(store, machine):
    # Many tools write a <dimension> that does not cover the data; openpyxl's read-only mode stops there.
    extra = b"".join(b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>1%d/01/2026</t></is></c><c r="B%d"><v>0.5</v></c>'
                     b'<c r="C%d"><v>0</v></c><c r="D%d"><v>0</v></c></row>' % ((i,) * 6) for i in range(3, 6))
    data = _xlsx_with_sheet(lambda d: d.replace(b"</sheetData>", extra + b"</sheetData>"))
    assert b'<dimension ref="A1:D2"' in zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    p = plan(store, machine, data, name="h.xlsx")
    assert p.ok, p.errors
    assert [r.line for r in p.rows] == [2, 3, 4, 5]


@pytest.mark.parametrize("edit", [
    lambda d: d.replace(b'<c r="B2" t="n"><v>0.1</v>', b'<c r="B2" t="n"><v>abc</v>'),
    lambda d: d.replace(b"</sheetData>", b"<row></sheetData>"),
    lambda d: d.replace(b'r="B2"', b'r="ZZZZZZ2"'),
], ids=["number_cell_with_text", "broken_xml", "bad_cell_reference"])
def test_xlsx_with_a_damaged_sheet_is_one_sentence(store, machine, edit):
    with pytest.raises(QCInputError) as info:
        plan(store, machine, _xlsx_with_sheet(edit), name="h.xlsx")
    assert info.value.key == "imp.err.unreadable"
    for lang in ("fr", "en"):  # no Python exception name (ValueError, ParseError) in the sentence
        assert "Error" not in info.value.message(lang), info.value.message(lang)


def test_malformed_csv_sentence_in_french_has_no_english_reason(store, machine):
    with pytest.raises(QCInputError) as info:
        plan(store, machine, "Date;Translation X;Translation Y;Translation Z\n15/01/2026;" + "1" * 140_000 + ";0;0\n")
    msg = info.value.message("fr")
    assert "field" not in msg and "Error" not in msg, msg


def _percent_xlsx(header: list[str], rows: list[list]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
        ws.cell(ws.max_row, 2).number_format = "0.0%"  # what Excel does when the column is formatted as a percentage
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_xlsx_percent_cells_read_as_the_number_shown(store, machine):
    """80 % typed in a percentage-formatted cell is stored by Excel as 0.8: the helium level reads 80, not 0.8."""
    data = _percent_xlsx(["Date", "Niveau d'hélium (%)"], [["01/09/2026", 0.8], ["08/09/2026", 0.795]])
    p = plan(store, machine, data, name="h.xlsx", test="helium")
    assert p.ok, p.errors
    assert [r.values["helium_level_pct"] for r in p.rows] == [80.0, 79.5]


def test_xlsx_percent_cell_in_a_field_in_mm_is_refused_with_its_line(store, machine):
    data = _percent_xlsx(["Date", "Translation X (mm)", "Translation Y (mm)", "Translation Z (mm)"], [["15/01/2026", 0.003, 0.1, 0.2]])
    p = plan(store, machine, data, name="h.xlsx")
    assert not p.ok and not p.rows
    assert any("Ligne 2" in e and "pourcentage" in e and "mm" in e for e in p.errors), p.errors


def test_a_derived_value_that_divides_by_zero_is_one_french_sentence_with_its_line(store, machine):
    from qc.records.logged import Derived, LoggedField, LoggedTest, save_custom_logged_test

    save_custom_logged_test(store, LoggedTest(
        key="ratio_custom", name_fr="Rapport", name_en="Ratio", frequency="daily",
        fields=[LoggedField("a_nc", "Lecture", "Reading", unit="nC", min=0, max=100),
                LoggedField("b_nc", "Référence", "Reference", unit="nC", min=0, max=100)],
        derived=[Derived("ratio", "Rapport", "Ratio", formula="a_nc / b_nc")], builtin=False), "phys")
    p = plan(store, machine, "Date;Lecture (nC);Référence (nC)\n01/09/2026;20;0\n", test="ratio_custom")
    assert not p.ok and not p.rows
    assert any(e.startswith("Ligne 2") and "division par zéro" in e for e in p.errors), p.errors
    assert not any("float" in e or "by zero" in e for e in p.errors), p.errors


def test_rows_stored_since_the_preview_are_not_stored_twice(store, machine):
    """Two imports of the same file previewed at once: the second, checked again under the write lock, stores
    nothing and says why."""
    first, second = plan(store, machine, FR_CSV), plan(store, machine, FR_CSV)
    assert first.ok and second.ok and not second.duplicates
    li.store_import(store, first, user="phys")
    with pytest.raises(QCInputError) as info:
        li.store_import(store, second, user="other")
    assert info.value.key == "imp.err.stored_meanwhile"
    assert n_sessions(store) == 3


def test_xlsx_with_a_flood_of_empty_styled_rows_is_refused_quickly(store, machine):
    """Rows holding only styled empty cells are skipped, not counted as entries: they are bounded too."""
    import re

    data = xlsx_bytes([["Date", "Translation X (mm)", "Translation Y (mm)", "Translation Z (mm)"], ["15/01/2026", 0.1, 0.2, 0.3]])
    zin = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            b = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                rows = b"".join(b'<row r="%d"><c r="A%d" s="0"/></row>' % (i, i) for i in range(3, 60003))
                b = b.replace(b"</sheetData>", rows + b"</sheetData>")
                b = re.sub(rb'<dimension ref="[^"]*"/>', b"", b)
            zout.writestr(item, b)
    with pytest.raises(QCInputError) as info:
        plan(store, machine, out.getvalue(), name="h.xlsx")
    assert info.value.key == "imp.err.too_many_rows"  # stops at 4 × the row limit of lines read
