"""Strings shared by the app, the CLI and the reports: statuses, frequencies, generic labels."""

MESSAGES = {
    "status.pass": {"fr": "Conforme", "en": "Pass"},
    "status.warning": {"fr": "Alerte", "en": "Warning"},
    "status.fail": {"fr": "Non conforme", "en": "Fail"},
    "status.none": {"fr": "Sans tolérance", "en": "No tolerance"},
    "freq.daily": {"fr": "Quotidien", "en": "Daily"},
    "freq.weekly": {"fr": "Hebdomadaire", "en": "Weekly"},
    "freq.monthly": {"fr": "Mensuel", "en": "Monthly"},
    "freq.quarterly": {"fr": "Trimestriel", "en": "Quarterly"},
    "freq.yearly": {"fr": "Annuel", "en": "Yearly"},
    "kind.dicom": {"fr": "Images", "en": "Images"},
    "kind.report": {"fr": "Rapport", "en": "Report"},
    "kind.logged": {"fr": "Saisie", "en": "Form"},
    "warn.machine_mismatch": {
        "fr": "Machine choisie : {chosen}, mais l'en-tête DICOM désigne {header}. Vérifiez la machine avant d'enregistrer.",
        "en": "Chosen machine: {chosen}, but the DICOM header names {header}. Check the machine before saving.",
    },
    "geom.warn.no_cax": {
        "fr": "{file} : pas de calibration de l'axe faisceau (CAX) pour cette machine ; le centre de l'imageur ({uc}, {vc}) px est utilisé (à régler dans Paramètres).",
        "en": "{file}: no beam-axis (CAX) calibration for this machine; the imager centre ({uc}, {vc}) px is used (set it in Settings).",
    },
    "geom.warn.cax_outside": {
        "fr": "{file} : la calibration CAX ({u}, {v}) px est hors de cette image {cols}×{rows} : elle ne s'applique pas à cette image (positions par rapport à l'axe non mesurées).",
        "en": "{file}: the CAX calibration ({u}, {v}) px lies outside this {cols}×{rows} image: it does not apply to this image (positions relative to the axis not measured).",
    },
    "cli.err.value_syntax": {
        "fr": "« {value} » : écrivez --value CHAMP=VALEUR (par ex. --value helium_level_pct=72,5).",
        "en": "\"{value}\": write --value FIELD=VALUE (e.g. --value helium_level_pct=72.5).",
    },
    "cli.err.logged_files": {
        "fr": "Le test « {test} » se saisit avec --value CHAMP=VALEUR, pas avec des fichiers.",
        "en": "The test \"{test}\" takes --value FIELD=VALUE, not files.",
    },
    "cli.duplicate_hint": {
        "fr": "Rien n'a été enregistré. Ajoutez --allow-duplicate pour l'enregistrer quand même.",
        "en": "Nothing was stored. Add --allow-duplicate to store it anyway.",
    },
    "cli.stored": {"fr": "Enregistré : séance n° {session}.", "en": "Stored: session #{session}."},
    "cli.demo_built": {
        "fr": "Base de démonstration créée dans {path} : {sessions} séances, {metrics} mesures, machine « {machine} ».",
        "en": "Demo database built in {path}: {sessions} sessions, {metrics} measurements, machine \"{machine}\".",
    },
}
