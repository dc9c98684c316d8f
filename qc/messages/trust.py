"""How a verdict is reached: acquisition date, rules in force, "Non mesuré", session status."""

MESSAGES = {
    "status.not_measured": {"fr": "Non mesuré", "en": "Not measured"},
    "err.no_acquisition_date": {
        "fr": "Date d'acquisition absente des fichiers : indiquez-la (champ « Date d'acquisition », ou --date AAAA-MM-JJ en ligne de commande).",
        "en": "No acquisition date in the files: give it (the \"Acquisition date\" field, or --date YYYY-MM-DD on the command line).",
    },
    "err.implausible_header_date": {
        "fr": "La date de l'en-tête de {file} ({date}) n'est pas une date d'acquisition (avant 1990 ou dans le futur : une date par défaut de la console ou une horloge fausse) : indiquez la date de l'acquisition (champ « Date d'acquisition », ou --date AAAA-MM-JJ en ligne de commande).",
        "en": "The header date of {file} ({date}) is not an acquisition date (before 1990 or in the future: a console placeholder or a wrong clock): give the acquisition date (the \"Acquisition date\" field, or --date YYYY-MM-DD on the command line).",
    },
    "err.implausible_given_date": {
        "fr": "La date saisie ({date}) n'est pas une date d'acquisition possible (avant 1990 ou dans le futur) : indiquez la date réelle de l'acquisition.",
        "en": "The date given ({date}) is not a possible acquisition date (before 1990 or in the future): give the real acquisition date.",
    },
    "warn.implausible_header_date": {
        "fr": "Date de l'en-tête rejetée ({date}, {files}) : avant 1990 ou dans le futur, ce n'est pas une date d'acquisition.",
        "en": "Header date rejected ({date}, {files}): before 1990 or in the future, it is not an acquisition date.",
    },
    "cli.err.date_syntax": {
        "fr": "Date « {value} » illisible : écrivez AAAA-MM-JJ ou « AAAA-MM-JJ HH:MM ».",
        "en": "Date \"{value}\" not understood: write YYYY-MM-DD or \"YYYY-MM-DD HH:MM\".",
    },
    "warn.date_from_user": {
        "fr": "Date d'acquisition saisie par l'utilisateur ({date}) : les fichiers n'en contiennent pas. Tolérances, étalonnage et référence sont ceux en vigueur à cette date.",
        "en": "Acquisition date given by the user ({date}): the files carry none. Tolerances, calibration and baseline are those in force on that date.",
    },
    "warn.date_source": {
        "fr": "Date d'acquisition prise de {source} (pas de date d'acquisition dans l'en-tête).",
        "en": "Acquisition date taken from {source} (no acquisition date in the header).",
    },
    "warn.date_given_ignored": {
        "fr": "Date saisie ({given}) non utilisée : les fichiers portent leur date ({date}).",
        "en": "Date given ({given}) not used: the files carry their own date ({date}).",
    },
    "date_source.AcquisitionDate": {"fr": "la date d'acquisition", "en": "the acquisition date"},
    "date_source.AcquisitionDateTime": {"fr": "la date d'acquisition", "en": "the acquisition date"},
    "date_source.ContentDate": {"fr": "la date de création du contenu de l'image", "en": "the image content date"},
    "date_source.InstanceCreationDate": {"fr": "la date de création du fichier", "en": "the file creation date"},
    "date_source.user": {"fr": "la saisie de l'utilisateur", "en": "the user's entry"},
    "date_source.report": {"fr": "la date du rapport", "en": "the report's date"},
    "warn.older_than_calibrations": {
        "fr": "Images du {date}, antérieures au premier étalonnage de l'axe du faisceau de cette machine (valable à partir du {first}) : "
        "aucun étalonnage en vigueur à cette date. Ajoutez un étalonnage valable à cette date (Réglages) avant d'enregistrer.",
        "en": "Images of {date}, older than this machine's first beam-axis calibration (valid from {first}): no calibration in force "
        "on that date. Add a calibration valid on that date (Settings) before saving.",
    },
    "warn.not_measured": {
        "fr": "{metric} : non mesuré ({reason}) ; la séance est non conforme.",
        "en": "{metric}: not measured ({reason}); the session fails.",
    },
    "reason.not_measured": {"fr": "la valeur n'a pas pu être mesurée", "en": "the value could not be measured"},
    "warn.items_failed": {
        "fr": "{n} élément(s) sur {total} hors tolérance (voir le détail) ; la séance est non conforme.",
        "en": "{n} of {total} item(s) out of tolerance (see the details); the session fails.",
    },
    "ui.acquisition_date": {"fr": "Date d'acquisition", "en": "Acquisition date"},
    "ui.acquisition_time": {"fr": "Heure d'acquisition", "en": "Acquisition time"},
    "ui.acquisition_date_needed": {
        "fr": "Les fichiers ne portent pas de date d'acquisition. Indiquez la date à laquelle les images ont été acquises : "
        "elle choisit les tolérances, l'étalonnage et la référence en vigueur.",
        "en": "The files carry no acquisition date. Give the date the images were acquired: it chooses the tolerances, "
        "calibration and baseline in force.",
    },
    "ui.acquisition_date_use": {"fr": "Analyser avec cette date", "en": "Analyse with this date"},
    "settings.cax_u": {"fr": "Axe du faisceau : colonne U (pixel)", "en": "Beam axis: column U (pixel)"},
    "settings.cax_v": {"fr": "Axe du faisceau : ligne V (pixel)", "en": "Beam axis: row V (pixel)"},
    "settings.cax_valid_from": {"fr": "Étalonnage valable à partir du", "en": "Calibration valid from"},
    "settings.cax_help": {
        "fr": "Pixel de l'axe du faisceau sur l'imageur MV (vide : à ajouter plus tard). La date par défaut est celle de la plus "
        "ancienne séance enregistrée : un étalonnage ne s'applique qu'aux images acquises à partir de sa date.",
        "en": "Beam-axis pixel on the MV imager (empty: add it later). The default date is the earliest stored session: a "
        "calibration only applies to images acquired from its date on.",
    },
}
