"""The verdict shown first on the study pages: the session's verdict, one line per measure, warnings folded."""

MESSAGES = {
    "verdict.session": {"fr": "Verdict de la séance : {status}", "en": "Session verdict: {status}"},
    "verdict.per_measure": {"fr": "Par mesure (la première est ouverte ci-dessous) :", "en": "Per measure (the first one is open below):"},
    "verdict.not_applicable": {"fr": "Ne s'applique pas à ces images : {measures}", "en": "Does not apply to these images: {measures}"},
    "verdict.warnings_many": {"fr": "{n} avertissements", "en": "{n} warnings"},
}
