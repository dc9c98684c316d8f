"""Logged tests: checks whose values are typed in a form, defined by data rather than code.

A `LoggedTest` names its fields (number with unit and allowed range, pass/fail item, free text),
derived values computed by a formula of the fields (e.g. couch deviation = (r2 − r1)·10 − 40 mm) or
as a rate over the last readings (helium decline in %/week, restarting after a refill), and the
default tolerance of each metric. The tests the department runs (domain.md §7–§9, §11) ship here;
a physicist defines another in Settings and it is stored as JSON in the `logged_tests` table and
gets its form, storage, trend, due date and report rows like any other test.

Entering values: `parse_number("12,5")` accepts a decimal comma; a value outside the field's range
is refused with a sentence naming the field, the range and the unit.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import math
import operator
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from qc.errors import QCInputError, QCInputErrors
from qc.spec import FREQUENCIES, MetricSpec, TestSpec
from qc.results import AnalysisResult, Measurement
from qc.tolerances import Tolerance

# The version of the logged tests' evaluation (typed values checked, rates, derived values); stored as their analyser_version.
LOGGED_VERSION = "1.0"

FIELD_KINDS = ("number", "passfail", "text")


@dataclass
class LoggedField:
    """One input of the form. Pass/fail items are stored as 1 (pass) / 0 (fail)."""

    key: str
    label_fr: str
    label_en: str
    kind: str = "number"
    unit: str = ""
    min: float | None = None
    max: float | None = None
    required: bool = True
    tolerance: Tolerance | None = None
    help_fr: str = ""
    help_en: str = ""
    default: float | None = None  # number fields: the value used when left empty (e.g. T0 = 20 °C)

    def label(self, lang: str) -> str:
        return self.label_fr if lang == "fr" else self.label_en


@dataclass
class Derived:
    """A value computed from the fields: `formula` (arithmetic of field keys), or a `rate_of` a field.

    A rate is the least-squares slope of that field over the last `rate_last_n` readings (this one
    included), in units per `rate_per_days` days; it restarts after a refill (a rise of more than
    `refill_rise` units), which is an event, not an error.
    """

    key: str
    label_fr: str
    label_en: str
    unit: str = ""
    formula: str = ""
    rate_of: str = ""
    rate_per_days: float = 7.0
    rate_last_n: int = 6
    refill_rise: float = 2.0
    tolerance: Tolerance | None = None
    trend: bool = True

    def label(self, lang: str) -> str:
        return self.label_fr if lang == "fr" else self.label_en


@dataclass
class LoggedTest:
    key: str
    name_fr: str
    name_en: str
    frequency: str
    fields: list[LoggedField]
    derived: list[Derived] = field(default_factory=list)
    description_fr: str = ""
    description_en: str = ""
    builtin: bool = True

    def validate(self) -> None:
        """Refuse a definition that could not work (checked before storing a custom test)."""
        if not re.fullmatch(r"[a-z][a-z0-9_]{1,40}", self.key):
            raise ValueError("key: lowercase letters, digits and _ (2–41 characters), starting with a letter")
        if self.frequency not in FREQUENCIES:
            raise ValueError(f"frequency must be one of {', '.join(FREQUENCIES)}")
        if not self.name_fr.strip() or not self.fields:
            raise ValueError("a name and at least one field are required")
        keys = [f.key for f in self.fields] + [d.key for d in self.derived]
        if len(set(keys)) != len(keys):
            raise ValueError("field and derived keys must be unique")
        for f in self.fields:
            if f.kind not in FIELD_KINDS:
                raise ValueError(f"field {f.key}: kind must be one of {FIELD_KINDS}")
            if not re.fullmatch(r"[a-z][a-z0-9_]*", f.key):
                raise ValueError(f"field key {f.key!r}: lowercase letters, digits and _")
            if f.min is not None and f.max is not None and f.min >= f.max:
                raise ValueError(f"field {f.key}: min must be < max")
        numeric = {f.key for f in self.fields if f.kind in ("number", "passfail")}
        for d in self.derived:
            if d.formula:
                names = formula_names(d.formula)
                unknown = names - numeric - {d2.key for d2 in self.derived if d2 is not d}
                if unknown:
                    raise ValueError(f"derived {d.key}: unknown name(s) {', '.join(sorted(unknown))}")
                evaluate_formula(d.formula, {n: 1.0 for n in names})
            elif d.rate_of not in numeric:
                raise ValueError(f"derived {d.key}: give a formula or a numeric field for rate_of")

    def to_spec(self) -> TestSpec:
        """The test as the app knows it; a logged test's method (its fields, formulas, limits) is data, its
        version the one of this evaluation code (`LOGGED_VERSION`)."""
        metrics: list[MetricSpec] = []
        for f in self.fields:
            if f.kind == "number":
                metrics.append(MetricSpec(f.key, f.unit, f.label_fr, f.label_en, f.tolerance))
            elif f.kind == "passfail":
                metrics.append(MetricSpec(f.key, "", f.label_fr, f.label_en, f.tolerance or PASSFAIL_TOL, trend=False))
        for d in self.derived:
            metrics.append(MetricSpec(d.key, d.unit, d.label_fr, d.label_en, d.tolerance, trend=d.trend))
        if any(f.kind == "passfail" for f in self.fields):
            metrics.append(MetricSpec("n_failed_items", "", "Éléments non conformes", "Failed items", Tolerance.at_most(0), trend=False))
        return TestSpec(
            key=self.key,
            name_fr=self.name_fr,
            name_en=self.name_en,
            frequency=self.frequency,
            kind="logged",
            metrics=tuple(metrics),
            description_fr=self.description_fr,
            description_en=self.description_en,
            definition=self,
            version=LOGGED_VERSION,
        )

    # -------------------------------------------------------------- evaluation

    def evaluate(
        self,
        raw_values: dict[str, Any],
        *,
        acquired_at: dt.datetime,
        comments: dict[str, str] | None = None,
        history: dict[str, list[tuple[dt.datetime, float]]] | None = None,
        lang: str = "fr",
    ) -> AnalysisResult:
        """Check and convert the typed values, compute derived ones.

        Every problem of the form is reported at once: raises `QCInputErrors` listing each bad field
        (required and empty, not a number, out of range, failed item without comment) in form order.
        `history` maps a field a rate is taken of to its earlier (date, value) readings (see `rate_history`).
        """
        comments = comments or {}
        values: dict[str, float | None] = {}
        texts: dict[str, str] = {}
        errors: list[QCInputError] = []
        for f in self.fields:
            raw = raw_values.get(f.key)
            try:
                if f.kind == "text":
                    texts[f.key] = "" if raw is None else str(raw).strip()
                    if f.required and not texts[f.key]:
                        raise QCInputError("logged.err.required", field=f.label(lang))
                    continue
                if f.kind == "passfail":
                    if raw is None or raw == "":
                        values[f.key] = None
                        if f.required:
                            raise QCInputError("logged.err.required", field=f.label(lang))
                        continue
                    ok = _as_bool(raw)
                    values[f.key] = 1.0 if ok else 0.0
                    if not ok and not (comments.get(f.key) or "").strip():
                        raise QCInputError("logged.err.comment_needed", field=f.label(lang))
                    continue
                values[f.key] = parse_number(raw, f, lang)
            except QCInputError as exc:
                values.setdefault(f.key, None)
                errors.append(exc)
        if errors:
            raise errors[0] if len(errors) == 1 else QCInputErrors(errors)
        measurements: list[Measurement] = []
        for f in self.fields:
            if f.kind == "number" and values.get(f.key) is not None:
                measurements.append(Measurement(f.key, values[f.key], f.unit, description=f.label(lang)))
            elif f.kind == "passfail" and values.get(f.key) is not None:
                measurements.append(Measurement(f.key, values[f.key], "", description=f.label(lang)))
        events: list[str] = []
        for d in self.derived:
            if d.formula:
                names = formula_names(d.formula)
                if any(values.get(n) is None for n in names):
                    continue
                value = evaluate_formula(d.formula, {n: values[n] for n in names})  # type: ignore[misc]
            else:
                current = values.get(d.rate_of)
                if current is None:
                    continue
                value, refill = decline_rate((history or {}).get(d.rate_of, []) + [(acquired_at, current)], d.rate_per_days, d.rate_last_n, d.refill_rise)
                if refill:
                    events.append("refill")
                if value is None:
                    continue
            values[d.key] = value
            measurements.append(Measurement(d.key, round(value, 6), d.unit, description=d.label(lang)))
        passfail = [f for f in self.fields if f.kind == "passfail" and values.get(f.key) is not None]
        if passfail:
            measurements.append(Measurement("n_failed_items", float(sum(1 for f in passfail if values[f.key] == 0)), ""))
        items = [
            {
                "field": f.label(lang),
                "key": f.key,
                "value": (texts.get(f.key) if f.kind == "text" else values.get(f.key)),
                "unit": f.unit,
                "comment": (comments.get(f.key) or "").strip(),
            }
            for f in self.fields
        ]
        return AnalysisResult(
            test=self.key,
            measurements=measurements,
            items=items,
            acquired_at=acquired_at,
            params={"texts": texts, "comments": {k: v for k, v in comments.items() if v}, "events": events},
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "LoggedTest":
        data = json.loads(text)
        data["fields"] = [LoggedField(**{**f, "tolerance": _tol(f.get("tolerance"))}) for f in data["fields"]]
        data["derived"] = [Derived(**{**d, "tolerance": _tol(d.get("tolerance"))}) for d in data.get("derived", [])]
        return cls(**data)


def _tol(data: dict | None) -> Tolerance | None:
    return Tolerance(**data) if data else None


PASSFAIL_TOL = Tolerance(act_low=1.0, tol_low=1.0, reference="Conforme / non conforme")


def _as_bool(raw: Any) -> bool:
    if isinstance(raw, str):
        return raw.strip().lower() in ("1", "true", "pass", "ok", "oui", "yes", "conforme", "c")
    return bool(raw)


_NUMBER = re.compile(r"^[+-−]?(\d+([.,]\d*)?|[.,]\d+)$")


def parse_number(raw: Any, f: LoggedField, lang: str = "fr") -> float | None:
    """A typed number: "12,5" and "12.5" both give 12.5; outside [min, max] is refused."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if f.default is not None:
            return float(f.default)
        if f.required:
            raise QCInputError("logged.err.required", field=f.label(lang))
        return None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        value = float(raw)
    else:
        text = str(raw).strip().replace(" ", "").replace("\u00a0", "").replace("−", "-")
        if not _NUMBER.match(text):
            raise QCInputError("logged.err.not_a_number", field=f.label(lang), value=str(raw))
        value = float(text.replace(",", "."))
    if not math.isfinite(value):
        raise QCInputError("logged.err.not_a_number", field=f.label(lang), value=str(raw))
    if (f.min is not None and value < f.min) or (f.max is not None and value > f.max):
        raise QCInputError(
            "logged.err.out_of_range",
            field=f.label(lang),
            value=f"{value:g}",
            min="−∞" if f.min is None else f"{f.min:g}",
            max="+∞" if f.max is None else f"{f.max:g}",
            unit=f.unit,
        )
    return value


# ------------------------------------------------------------------ formulas

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv, ast.Pow: operator.pow}
_UNOPS = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_FUNCS = {"abs": abs, "sqrt": math.sqrt, "min": min, "max": max, "round": round, "hypot": math.hypot}


def formula_names(formula: str) -> set[str]:
    tree = ast.parse(formula, mode="eval")
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in _FUNCS}


def evaluate_formula(formula: str, values: dict[str, float]) -> float:
    """Arithmetic only (+ − × ÷ **, abs, sqrt, min, max, round, hypot): no names but the fields'."""

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.Name) and node.id in values:
            return float(values[node.id])
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNOPS:
            return _UNOPS[type(node.op)](ev(node.operand))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords:
            return float(_FUNCS[node.func.id](*[ev(a) for a in node.args]))
        raise ValueError(f"not allowed in a formula: {ast.dump(node)[:60]}")

    return ev(ast.parse(formula, mode="eval"))


def decline_rate(
    readings: list[tuple[dt.datetime, float]], per_days: float, last_n: int, refill_rise: float
) -> tuple[float | None, bool]:
    """Slope (units per `per_days`) of the last `last_n` readings since the last refill.

    Returns (rate or None when fewer than 2 readings since the refill, whether the LAST reading is a
    refill). A refill is a rise of more than `refill_rise` between consecutive readings.
    """
    readings = sorted(readings, key=lambda r: r[0])
    start = 0
    for i in range(1, len(readings)):
        if readings[i][1] - readings[i - 1][1] > refill_rise:
            start = i
    is_refill = len(readings) >= 2 and start == len(readings) - 1
    window = readings[start:][-last_n:]
    if len(window) < 2:
        return None, is_refill
    t0 = window[0][0]
    days = np.array([(d - t0).total_seconds() / 86400.0 for d, _ in window])
    vals = np.array([v for _, v in window])
    if np.ptp(days) == 0:
        return None, is_refill
    slope = float(np.polyfit(days, vals, 1)[0])
    return slope * per_days, is_refill


# ------------------------------------------------------------------ the department's tests


def _sym(tol: float, act: float, ref: str) -> Tolerance:
    return Tolerance(act_low=-act, tol_low=-tol, tol_high=tol, act_high=act, reference=ref)


HELIUM = LoggedTest(
    key="helium",
    name_fr="Niveau hélium",
    name_en="Helium level",
    frequency="weekly",
    fields=[
        LoggedField(
            "helium_level_pct",
            "Niveau d'hélium",
            "Helium level",
            unit="%",
            min=0,
            max=100,
            tolerance=Tolerance(act_low=65.0, tol_low=70.0, reference="Procédure du département : > 65 % ; alerte sous 70 %"),
            help_fr="Lu sur la console IRM / écran de service.",
            help_en="Read on the MR console / service screen.",
        ),
    ],
    derived=[
        Derived(
            "helium_decline_pct_per_week",
            "Vitesse de baisse",
            "Decline rate",
            unit="%/sem",
            rate_of="helium_level_pct",
            rate_per_days=7.0,
            rate_last_n=6,
            refill_rise=2.0,
            tolerance=Tolerance(act_low=-1.0, tol_low=-0.5, reference="Pente sur 6 relevés ; seuils à confirmer avec le constructeur (Philips)"),
        )
    ],
    description_fr="Niveau d'hélium de l'aimant (%) ; la vitesse de baisse est surveillée, un remplissage est un événement.",
    description_en="Magnet helium level (%); its decline rate is watched; a refill is an event.",
)

COUCH = LoggedTest(
    key="couch",
    name_fr="Position table",
    name_en="Couch position",
    frequency="monthly",
    fields=[
        LoggedField("couch_readout_1_cm", "Lecture à la marque 17,5 cm", "Readout at the 17.5 cm mark", unit="cm", min=0, max=300),
        LoggedField("couch_readout_2_cm", "Lecture à la marque 21,5 cm", "Readout at the 21.5 cm mark", unit="cm", min=0, max=300),
    ],
    derived=[
        Derived(
            "couch_deviation_mm",
            "Écart de déplacement (signé)",
            "Travel deviation (signed)",
            unit="mm",
            formula="(couch_readout_2_cm - couch_readout_1_cm) * 10 - 40",
            tolerance=_sym(1.5, 2.0, "Procédure du département : ≤ 2 mm sur 4,0 cm ; AAPM TG-142 2 mm"),
        )
    ],
    description_fr="Déplacement longitudinal de 4,0 cm entre les marques 17,5 et 21,5 cm ; l'écart signé doit rester dans ±2 mm.",
    description_en="Longitudinal travel of 4.0 cm between the 17.5 and 21.5 cm marks; the signed deviation must stay within ±2 mm.",
)

LASER = LoggedTest(
    key="laser",
    name_fr="Alignement laser",
    name_en="Laser alignment",
    frequency="monthly",
    fields=[
        LoggedField(f"laser_{pos}_mm", f"Écart marqueur {fr}", f"{en} marker deviation", unit="mm", min=-50, max=50,
                    tolerance=_sym(1.5, 2.0, "Procédure du département : ≤ 2 mm ; AAPM TG-142 2 mm"))
        for pos, fr, en in (("proximal", "proximal", "Proximal"), ("central", "central", "Central"), ("distal", "distal", "Distal"))
    ],
    description_fr="Écarts des trois marqueurs (proximal, central, distal), chacun dans ±2 mm.",
    description_en="Deviations of the three markers (proximal, central, distal), each within ±2 mm.",
)

QUASAR = LoggedTest(
    key="quasar",
    name_fr="QUASAR",
    name_en="QUASAR",
    frequency="monthly",
    fields=[
        LoggedField("gating_latency_ok", "Latence du gating conforme", "Gating latency acceptable", kind="passfail"),
        LoggedField("gating_latency_reason", "Motif / observation latence", "Latency reason / remark", kind="text", required=False),
        LoggedField("gating_latency_ms", "Latence mesurée", "Measured latency", unit="ms", min=0, max=2000, required=False,
                    tolerance=Tolerance(tol_high=100.0, act_high=100.0, reference="AAPM TG-142 (gating) 100 ms [à vérifier]")),
        LoggedField("quasar_dx_mm", "Écart X", "X deviation", unit="mm", min=-50, max=50, tolerance=_sym(1.5, 2.0, "Procédure du département : ±2 mm")),
        LoggedField("quasar_dy_mm", "Écart Y", "Y deviation", unit="mm", min=-50, max=50, tolerance=_sym(1.5, 2.0, "Procédure du département : ±2 mm")),
        LoggedField("quasar_dz_mm", "Écart Z", "Z deviation", unit="mm", min=-50, max=50, tolerance=_sym(1.5, 2.0, "Procédure du département : ±2 mm")),
    ],
    derived=[
        Derived("quasar_norm_3d_mm", "Écart 3D (norme)", "3-D deviation (norm)", unit="mm",
                formula="sqrt(quasar_dx_mm**2 + quasar_dy_mm**2 + quasar_dz_mm**2)")
    ],
    description_fr="Fantôme de mouvement QUASAR : verdict de latence du gating et écarts X, Y, Z (±2 mm) ; la norme 3D est suivie.",
    description_en="QUASAR motion phantom: gating latency verdict and X, Y, Z deviations (±2 mm); the 3-D norm is trended.",
)

SAFETY_ITEMS = (
    ("safety_door_interlock", "Verrouillage de porte", "Door interlock"),
    ("safety_emergency_stops", "Arrêts d'urgence", "Emergency stops"),
    ("safety_beam_indicators", "Voyants d'état faisceau", "Beam status indicators"),
    ("safety_beam_interruption", "Interruption du faisceau", "Beam interruption"),
    ("safety_audio_video", "Audio / vidéo patient", "Patient audio / video"),
    ("safety_couch_stop", "Arrêt d'urgence table", "Couch emergency stop"),
)

SAFETY = LoggedTest(
    key="safety",
    name_fr="Sécurités quotidiennes",
    name_en="Daily safety checks",
    frequency="daily",
    fields=[LoggedField(k, fr, en, kind="passfail") for k, fr, en in SAFETY_ITEMS],
    description_fr="Liste de contrôle quotidienne (ANSM 1.1, 1.5 ; TG-284) : chaque élément conforme ou non, commentaire obligatoire si non conforme.",
    description_en="Daily checklist (ANSM 1.1, 1.5; TG-284): each item pass or fail, a comment is required when failed.",
)

BEAM_QUALITY = LoggedTest(
    key="beam_quality",
    name_fr="Indice de qualité",
    name_en="Beam quality index",
    frequency="monthly",
    fields=[
        LoggedField("d20_d10", "Rapport D20/D10", "D20/D10 ratio", min=0.3, max=1.0,
                    tolerance=Tolerance(act_low=-0.01, tol_low=-0.0075, tol_high=0.0075, act_high=0.01, nominal=0.704, mode="relative",
                                        reference="Référence du département 0,704 ± 0,01")),
        LoggedField("d15_d5", "Rapport D15/D5", "D15/D5 ratio", min=0.3, max=1.0, required=False,
                    tolerance=Tolerance(act_low=-0.01, tol_low=-0.0075, tol_high=0.0075, act_high=0.01, nominal=0.723, mode="relative",
                                        reference="Référence du département 0,723 ± 0,01")),
    ],
    description_fr="Indice de qualité du faisceau 7 MV FFF : D20/D10 (0,704 ± 0,01) et D15/D5 (0,723 ± 0,01).",
    description_en="7 MV FFF beam quality index: D20/D10 (0.704 ± 0.01) and D15/D5 (0.723 ± 0.01).",
)

REF_OUTPUT = "TG-142 constance du débit quotidienne 3 % ; Unity : 2 % (PMC8504604)"

OUTPUT = LoggedTest(
    key="output",
    name_fr="Débit (chambre)",
    name_en="Output (chamber)",
    frequency="daily",
    fields=[
        LoggedField("chamber_reading", "Lecture de la chambre", "Chamber reading", unit="nC", min=0, max=1e6,
                    help_fr="Lecture brute (moyenne des lectures), dans l'unité de l'électromètre.",
                    help_en="Raw reading (mean of the readings), in the electrometer's unit."),
        LoggedField("temperature_c", "Température", "Temperature", unit="°C", min=10, max=40),
        LoggedField("pressure_kpa", "Pression", "Pressure", unit="kPa", min=70, max=110,
                    help_fr="En kPa : 1013 hPa = 101,3 kPa.", help_en="In kPa: 1013 hPa = 101.3 kPa."),
        LoggedField("reference_reading", "Lecture de référence (corrigée)", "Reference reading (corrected)", unit="nC", min=1e-9, max=1e6,
                    help_fr="Valeur de référence établie le jour de l'étalonnage, ramenée à T0 et P0.",
                    help_en="Reference value set on the calibration day, corrected to T0 and P0."),
        LoggedField("cross_calibration_factor", "Facteur d'intercomparaison", "Cross-calibration factor", min=0.5, max=2.0, required=False, default=1.0,
                    help_fr="Facultatif (1 si vide) : facteur de la chambre de routine par rapport à la chambre de référence.",
                    help_en="Optional (1 when empty): routine-to-reference chamber factor."),
        LoggedField("t0_c", "Température de référence T0", "Reference temperature T0", unit="°C", min=0, max=40, required=False, default=20.0,
                    help_fr="20 °C si vide.", help_en="20 °C when empty."),
        LoggedField("p0_kpa", "Pression de référence P0", "Reference pressure P0", unit="kPa", min=70, max=110, required=False, default=101.325,
                    help_fr="101,325 kPa si vide.", help_en="101.325 kPa when empty."),
    ],
    derived=[
        Derived("k_tp", "Facteur k_TP", "k_TP factor", formula="(273.15 + temperature_c) / (273.15 + t0_c) * p0_kpa / pressure_kpa"),
        Derived("corrected_reading", "Lecture corrigée", "Corrected reading", unit="nC",
                formula="chamber_reading * (273.15 + temperature_c) / (273.15 + t0_c) * p0_kpa / pressure_kpa * cross_calibration_factor"),
        Derived("output_deviation_pct", "Écart à la référence", "Deviation from reference", unit="%",
                formula="(chamber_reading * (273.15 + temperature_c) / (273.15 + t0_c) * p0_kpa / pressure_kpa * cross_calibration_factor"
                        " / reference_reading - 1) * 100",
                tolerance=_sym(2.0, 3.0, REF_OUTPUT)),
    ],
    description_fr="Lecture de la chambre corrigée en température et pression (k_TP = (273,15 + T)/(273,15 + T0) · P0/P), "
                   "facteur d'intercomparaison facultatif, écart en % à la référence (alerte 2 %, action 3 %).",
    description_en="Chamber reading corrected for temperature and pressure (k_TP = (273.15 + T)/(273.15 + T0) · P0/P), "
                   "optional cross-calibration factor, % deviation from the reference (warning 2 %, action 3 %).",
)

REF_MRMV = "Unity : distance isocentres IRM–MV ≤ 1 mm (PMC8504604) ; procédure constructeur ; alerte à 0,75 mm"

MR_MV = LoggedTest(
    key="mr_mv",
    name_fr="Alignement IRM–MV",
    name_en="MR-to-MV alignment",
    frequency="monthly",
    fields=[
        LoggedField(f"mrmv_{ax}_mm", f"Translation {ax.upper()}", f"Translation {ax.upper()}", unit="mm", min=-20, max=20,
                    tolerance=_sym(0.75, 1.0, REF_MRMV),
                    help_fr="Résultat de la procédure d'étalonnage / vérification IRM–MV du constructeur.",
                    help_en="Result of the vendor's MR-to-MV calibration / verification procedure.")
        for ax in ("x", "y", "z")
    ] + [
        LoggedField("mrmv_rotation_deg", "Rotation (Phi)", "Rotation (Phi)", unit="°", min=-10, max=10, required=False,
                    help_fr="Rotation rapportée par la procédure ; limite à fixer par le service (Réglages).",
                    help_en="Rotation reported by the procedure; limit to be set by the department (Settings)."),
        LoggedField("mrmv_last_calibration", "Date du dernier étalonnage IRM–MV", "Date of the last MR-to-MV calibration", kind="text", required=False,
                    help_fr="AAAA-MM-JJ", help_en="YYYY-MM-DD"),
    ],
    derived=[
        Derived("mrmv_distance_mm", "Distance 3D IRM–MV", "3-D MR-to-MV distance", unit="mm",
                formula="sqrt(mrmv_x_mm**2 + mrmv_y_mm**2 + mrmv_z_mm**2)", tolerance=Tolerance.at_most(0.75, 1.0, reference=REF_MRMV)),
    ],
    description_fr="Résultat de la procédure constructeur d'alignement IRM–MV : translations X, Y, Z (±1 mm), distance 3D (≤ 1 mm), "
                   "rotation et date du dernier étalonnage, suivis dans le temps.",
    description_en="Result of the vendor's MR-to-MV alignment procedure: X, Y, Z translations (±1 mm), 3-D distance (≤ 1 mm), "
                   "rotation and date of the last calibration, trended.",
)

BUILTIN_LOGGED: list[LoggedTest] = [SAFETY, HELIUM, COUCH, LASER, QUASAR, BEAM_QUALITY, OUTPUT, MR_MV]


def custom_logged_tests(store) -> list[LoggedTest]:
    """Logged tests a physicist defined in Settings (active ones)."""
    rows = store.db.query("select key, definition from logged_tests where active = 1 order by key")
    out = []
    for r in rows:
        lt = LoggedTest.from_json(r["definition"])
        lt.builtin = False
        out.append(lt)
    return out


def save_custom_logged_test(store, test: LoggedTest, user: str) -> None:
    """Validate and store a physicist's test definition (audited); its default tolerances are seeded."""
    test.builtin = False
    test.validate()
    # The image/report tests' keys come from the registry's lines (imported here, not at module level: the registry
    # imports this module's BUILTIN_LOGGED inside its functions; reading its lines imports no analyser).
    from qc.registry import analyser_keys

    if test.key in {t.key for t in BUILTIN_LOGGED} or test.key in analyser_keys():
        raise ValueError(f"the key {test.key!r} is taken by a built-in test")
    with store.write() as db:
        existed = db["logged_tests"].count_where("key = ?", [test.key]) > 0
        db["logged_tests"].upsert(
            {"key": test.key, "definition": test.to_json(), "created_by": user, "created_at": _now(), "active": 1}, pk="key"
        )
        store._audit(user, "update_logged_test" if existed else "add_logged_test", "logged_tests", test.key, json.loads(test.to_json()))
    store.seed_default_tolerances([test.to_spec()])


def _now() -> str:
    return dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")


def rate_history(store, test: LoggedTest, machine_id: int, before: dt.datetime) -> dict[str, list[tuple[dt.datetime, float]]]:
    """Earlier readings of each field a rate is taken of (non-voided sessions, before `before`)."""
    out: dict[str, list[tuple[dt.datetime, float]]] = {}
    for d in test.derived:
        if not d.rate_of:
            continue
        rows = store.db.query(
            "select s.acquired_at, x.value from metrics x join sessions s on s.id = x.session_id "
            "where s.machine_id = ? and s.test = ? and s.voided = 0 and x.name = ? and s.acquired_at < ? "
            "order by s.acquired_at",
            [machine_id, test.key, d.rate_of, before.isoformat(sep=" ")],
        )
        out[d.rate_of] = [(dt.datetime.fromisoformat(r["acquired_at"]), r["value"]) for r in rows if r["value"] is not None]
    return out
