"""The verdict shown first on the study pages (the session's verdict, one line per measure, warnings folded), and
opening a session from Historique by a list."""

MESSAGES = {
    "verdict.session": {"fr": "Verdict de la séance : {status}", "en": "Session verdict: {status}"},
    "verdict.per_measure": {"fr": "Par mesure, dans l'ordre de la page :", "en": "Per measure, in the order of the page:"},
    "verdict.not_applicable": {"fr": "Ne s'applique pas à ces images : {measures}", "en": "Does not apply to these images: {measures}"},
    "verdict.warnings_many": {"fr": "{n} avertissements", "en": "{n} warnings"},
    "hist.pick_session": {"fr": "Ouvrir une séance", "en": "Open a session"},
    "hist.pick_placeholder": {"fr": "Choisir une séance du tableau…", "en": "Choose a session of the table…"},
    "hist.pick_label": {"fr": "Séance n° {session} — {date} — {machine}", "en": "Session #{session} — {date} — {machine}"},
}
