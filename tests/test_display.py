"""What a physicist reads: the shared display helper (qc.display), every form error at once, the
French CSV dialect, the Home schedule's states and colours, and trend bands of magnitudes."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest

from qc.display import clean_reference, display_frame, fmt_bounds, fmt_number, items_frame, no_cax_warning, status_word


@pytest.mark.parametrize(
    "value, fr, en",
    [(336.0, "336", "336"), (30.0, "30", "30"), (511.03, "511,03", "511.03"), (0.0075, "0,0075", "0.0075"), (1.23456, "1,2346", "1.2346"),
     (-0.0, "0", "0"), (149.924, "149,92", "149.92"), (-20.0, "-20", "-20"), (float("nan"), "", "")],
)
def test_numbers_are_written_as_a_physicist_writes_them(value, fr, en):
    assert fmt_number(value, "fr") == fr and fmt_number(value, "en") == en


@pytest.mark.parametrize(
    "raw, clean",
    [("Département > 65 % (domain.md §7); alerte sous 70 %", "Département > 65 %; alerte sous 70 %"),
     ("Pente sur 6 relevés ; seuils à confirmer avec le constructeur (domain.md §7, §13 Q7)", "Pente sur 6 relevés ; seuils à confirmer avec le constructeur"),
     ("Proposé (domain.md §5, pas de limite publiée)", "Proposé (pas de limite publiée)"),
     ("pylinac picket fence 0,5 mm (domain.md §4, §12.1); TG-142 1 mm", "pylinac picket fence 0,5 mm; TG-142 1 mm"),
     ("TG-142 tableau V", "TG-142 tableau V")],
)
def test_references_keep_the_real_source_without_internal_notes(raw, clean):
    assert clean_reference(raw) == clean


def test_a_frame_for_display_has_labels_words_and_no_none():
    df = pd.DataFrame({
        "session_id": [3, 4], "metric": ["couch_deviation_mm", "couch_deviation_mm"], "test": ["couch", "couch"],
        "item": ["", None], "value": [1.2, None], "unit": ["mm", "mm"], "tol_low": [-1.5, None], "status": ["pass", "fail"],
        "voided": [0, 1], "reference": ["Département ≤ 2 mm (domain.md §8)", None],
    })
    from qc.registry import all_tests

    out = display_frame(df, "fr", specs=all_tests())
    assert list(out.columns) == ["Séance", "Mesure", "Test", "Élément", "Valeur", "Unité", "Tolérance basse", "Statut", "Annulée", "Référence"]
    row0, row1 = out.iloc[0], out.iloc[1]
    assert row0["Mesure"] == "Écart de déplacement (signé)" and row0["Test"] == "Position table" and row0["Valeur"] == "1,2"
    assert row0["Statut"] == "Conforme" and row0["Référence"] == "Département ≤ 2 mm" and row0["Annulée"] == ""
    assert row1["Statut"] == "Non mesuré" and row1["Valeur"] == "—" and row1["Élément"] == "" and row1["Tolérance basse"] == ""
    assert row1["Annulée"] == "Oui" and int(row1["Séance"]) == 4
    assert display_frame(df, "en", ["status"])["Status"].tolist() == ["Pass", "Not measured"]


def test_status_words_and_limits():
    assert status_word("warning", "fr") == "Alerte" and status_word("none", "fr") == "Sans tolérance"
    assert status_word("fail", "fr", value=None) == "Non mesuré" and status_word("fail", "fr", value=3.0) == "Non conforme"
    assert fmt_bounds((-1.0, -0.75, 0.75, 1.0), "mm", "fr") == "[-0,75 ; 0,75] / [-1 ; 1] mm"
    assert fmt_bounds((None, None, 0.5, 1.0), "mm", "en") == "[−∞ ; 0.5] / [−∞ ; 1] mm"
    assert fmt_bounds(None) == "—"


def test_items_are_labelled_from_the_catalogue_and_the_metric_specs():
    from qc.registry import get_test

    spec = get_test("leaves")
    out = items_frame([{"pair": 36, "bank": "A", "p_mm": -12.3, "measured_mm": 20.01, "error_mm": 0.01, "out_of_tolerance": False,
                        "max_abs_error_mm": 0.4, "picket": None}], "fr", spec)
    assert "Paire de lames" in out.columns and "Position mesurée (mm)" in out.columns and "Hors tolérance" in out.columns
    assert out.iloc[0]["Hors tolérance"] == "Non" and out.iloc[0]["Piquet"] == ""
    assert any(c.startswith("Écart max.") for c in out.columns)


def test_beam_axis_warning_says_which_date_is_missing_and_which_calibration_exists():
    text = no_cax_warning("fr", "img.dcm", dt.datetime(2026, 3, 2, 8, 0), [{"u0": 511.03, "v0": 652.75, "valid_from": "2026-04-01"}], 511.5, 511.5)
    assert "2026-03-02" in text and "2026-04-01" in text and "511,03" in text
    assert "aucune calibration" in no_cax_warning("fr", "img.dcm", dt.datetime(2026, 3, 2), [], 511.5, 511.5)


def test_a_form_reports_every_problem_at_once():
    """QUASAR with the latency radio left empty, a negative latency and Z = 1e9: three messages."""
    from qc.errors import QCInputErrors
    from qc.records.logged import QUASAR

    with pytest.raises(QCInputErrors) as info:
        QUASAR.evaluate({"gating_latency_ms": "-20", "quasar_dx_mm": "0,1", "quasar_dy_mm": "0", "quasar_dz_mm": "1e9"},
                        acquired_at=dt.datetime(2026, 10, 1, 8, 0))
    messages = info.value.messages("fr")
    assert len(messages) == 3
    assert "Latence du gating conforme" in messages[0] and "obligatoire" in messages[0]
    assert "Latence mesurée" in messages[1] and "-20" in messages[1]
    assert "Écart Z" in messages[2] and "1e9" in messages[2]
    assert info.value.message("en").count("\n") == 2


def test_french_csv_opens_in_columns_and_english_keeps_commas():
    from qc.records.export import export_frame, to_bytes

    df = pd.DataFrame({"session_id": [1], "test": ["couch"], "machine": ["U"], "acquired_at": ["2026-10-01 08:00:00"], "metric": ["couch_deviation_mm"],
                       "item": [""], "value": [1.25], "unit": ["mm"], "nominal": [None], "act_low": [-2.0], "tol_low": [-1.5], "tol_high": [1.5],
                       "act_high": [2.0], "status": ["pass"], "reference": ["x"], "operator": ["AG"], "comment": [""], "voided": [0]})
    fr = to_bytes(export_frame(df, "fr"), "csv", dialect="fr")
    assert fr.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel shows the accents
    text = fr.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("Séance;Test;Machine;Date d'acquisition;Mesure")
    assert ";1,25;mm;" in text and ";Conforme;" in text
    back = pd.read_csv(io.BytesIO(fr), sep=";", decimal=",", encoding="utf-8-sig")
    assert back["Valeur"].iloc[0] == pytest.approx(1.25) and back["Tolérance basse"].iloc[0] == pytest.approx(-1.5)
    en = to_bytes(export_frame(df, "en"), "csv", dialect="en").decode("utf-8-sig")
    assert en.splitlines()[0].startswith("Session,Test,Machine") and ",1.25,mm," in en and ",Pass," in en
    with pytest.raises(ValueError):
        to_bytes(export_frame(df), "csv", dialect="de")


def test_magnitude_trend_bands_do_not_go_below_zero():
    from qc.reporting.trends import trend_chart

    n = 6
    df = pd.DataFrame({"acquired_at": pd.date_range("2026-10-01", periods=n, freq="7D"), "value": np.linspace(0.1, 0.6, n), "status": ["pass"] * n,
                       "operator": [""] * n, "comment": [""] * n, "session_id": range(1, n + 1), "act_low": [None] * n, "tol_low": [None] * n,
                       "tol_high": [0.75] * n, "act_high": [1.0] * n, "nominal": [None] * n})
    spec = trend_chart(df, "Écart max. |·|", "mm", "fr", interactive=False).to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert min(r["act_lo"] for r in rows) == 0 and min(r["tol_lo"] for r in rows) == 0
    signed = df.assign(value=np.linspace(-0.3, 0.3, n), act_low=-1.0, tol_low=-0.75)
    rows = next(iter(trend_chart(signed, "x", "mm", "fr", interactive=False).to_dict()["datasets"].values()))
    assert min(r["act_lo"] for r in rows) == -1.0


def test_home_schedule_says_due_today_and_colours_each_state(qc_data_dir):
    from streamlit.testing.v1 import AppTest

    from conftest import REPO
    from qc import pipeline
    from qc.registry import get_test
    from qc.records.storage import open_store

    with open_store(qc_data_dir) as s:
        mid = s.add_machine("Unity A")
        m = s.machine(mid)
        # Couch done a month ago today → due today; laser done yesterday → up to date.
        today = dt.date.today()
        from qc.records.schedule import add_months

        month_ago = add_months(today, -1)
        if add_months(month_ago, 1) != today:
            pytest.skip("today is a clamped month end: no date one month earlier is due today")
        for key, when, values in (("couch", month_ago, {"couch_readout_1_cm": "17,5", "couch_readout_2_cm": "21,5"}),
                                  ("laser", today - dt.timedelta(days=1), {"laser_proximal_mm": "0", "laser_central_mm": "0", "laser_distal_mm": "3"})):
            a = pipeline.record_logged(s, get_test(key, s), m, values, acquired_at=dt.datetime.combine(when, dt.time(9, 0)))
            pipeline.store_analysis(s, a, operator="AG")
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["lang"] = "fr"
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    state = dict(zip(table["Test"], table["État"]))
    assert state["Position table"] == "à faire aujourd'hui"
    assert state["Alignement laser"].startswith("à jour")
    assert state["QUASAR"].startswith("À FAIRE")
    result = dict(zip(table["Test"], table["Résultat"]))
    assert "Non conforme" in result["Alignement laser"]


def test_numbers_in_french_messages_read_with_a_decimal_comma():
    """A message given a decimal number (as text or float) shows it with a comma in French, a point in English;
    file names, dates and integers are left alone."""
    from qc.i18n import t

    assert "axe–bille 0,64 mm" in t("wl.overlay.title", "fr", item="G000", d="0.64")
    assert "CAX–BB 0.64 mm" in t("wl.overlay.title", "en", item="G000", d="0.64")
    assert "1,5 mm" in t("wl.overlay.title", "fr", item="x", d=1.5)
    assert t("wl.overlay.title", "fr", item="acr_01.dcm", d="12") .startswith("acr_01.dcm — axe–bille 12 mm")


def test_format_specs_of_french_messages_still_apply_with_the_comma():
    """Messages that format their own numbers ({pos:.1f}, {flip:g}) keep doing so, with a comma in French."""
    from qc.i18n import CATALOGUE, t

    key = next(k for k, v in CATALOGUE.items() if "{pos:.1f}" in v["fr"] and "{flip:g}" in v["fr"])
    out = t(key, "fr", file="x.dcm", flip=60.0, pos=-12.345)
    assert "{" not in out and "-12,3 mm" in out and "60°" in out, out
    assert "-12.3 mm" in t(key, "en", file="x.dcm", flip=60.0, pos=-12.345)


def test_csv_rounds_values_as_shown_and_excel_keeps_full_precision():
    import openpyxl

    from qc.records.export import export_frame, to_bytes

    df = pd.DataFrame({"session_id": [1, 2], "test": ["couch", "couch"], "machine": ["U", "U"],
                       "acquired_at": ["2026-10-01 08:00:00"] * 2, "metric": ["couch_deviation_mm"] * 2, "item": ["", ""],
                       "value": [149.69948079349098, 0.000123456], "unit": ["mm", "mm"], "nominal": [None, None],
                       "act_low": [-2.0, -2.0], "tol_low": [-1.5, -1.5], "tol_high": [1.5, 1.5], "act_high": [2.0, 2.0],
                       "status": ["pass", "pass"], "reference": ["x", "x"], "operator": ["AG", "AG"], "comment": ["", ""], "voided": [0, 0]})
    text = to_bytes(export_frame(df, "fr"), "csv", dialect="fr").decode("utf-8-sig")
    assert ";149,7;" in text and "149,699" not in text and ";0,0001;" in text
    wb = openpyxl.load_workbook(io.BytesIO(to_bytes(export_frame(df, "fr"), "xlsx")))
    values = [c.value for c in next(wb.active.iter_cols(min_col=7, max_col=7))][1:]
    assert values[0] == pytest.approx(149.69948079349098, abs=1e-12)
