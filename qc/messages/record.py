"""The stored record of a session: pictures kept with it, sessions stored before, « Réanalyser »."""

MESSAGES = {
    "record.warn.picture_not_kept": {
        "fr": "Image « {title} » non conservée avec la séance ({mb} Mo : au-delà de la taille gardée par séance).",
        "en": "Picture \"{title}\" not kept with the session ({mb} MB: beyond the size kept per session).",
    },
    "record.warn.chart_failed": {
        "fr": "Un graphique de cette analyse n'a pas pu être dessiné ({error}) : la séance est enregistrée sans lui.",
        "en": "A chart of this analysis could not be drawn ({error}): the session is stored without it.",
    },
    "record.no_pictures": {
        "fr": "Les images et graphiques de cette séance n'ont pas été conservés (séance enregistrée avant qu'ils le soient) : ses mesures ci-dessus sont celles enregistrées.",
        "en": "The pictures and charts of this session were not kept (stored before they were): its measurements above are the stored ones.",
    },
    "record.pictures_missing": {
        "fr": "{n} image(s) de cette séance manquent dans le dossier de données (fichier effacé ou sauvegarde incomplète).",
        "en": "{n} picture(s) of this session are missing from the data folder (file deleted or incomplete backup).",
    },
    "record.versions": {
        "fr": "Version de l'analyse : {analyser} — application : {app}",
        "en": "Analysis version: {analyser} — application: {app}",
    },
    "record.err.files_not_kept": {
        "fr": "Les fichiers d'origine de la séance n° {session} n'ont pas été conservés : elle ne peut pas être réanalysée.",
        "en": "The original files of session {session} were not kept: it cannot be analysed again.",
    },
    "record.err.already_voided": {
        "fr": "La séance n° {session} est déjà annulée : réanalysez la séance en vigueur.",
        "en": "Session {session} is already voided: analyse the current session again.",
    },
    "record.reanalyse": {"fr": "Réanalyser", "en": "Analyse again"},
    "record.reanalyse_help": {
        "fr": "Analyse à nouveau les fichiers conservés avec la version actuelle de l'analyse ; rien n'est enregistré avant votre confirmation.",
        "en": "Analyses the kept files again with the current analysis version; nothing is stored before you confirm.",
    },
    "record.old": {"fr": "Enregistrée (version {version})", "en": "Stored (version {version})"},
    "record.new": {"fr": "Réanalyse (version {version})", "en": "Re-analysis (version {version})"},
    "record.same": {
        "fr": "La réanalyse donne les mêmes valeurs et statuts que la séance enregistrée.",
        "en": "The re-analysis gives the same values and statuses as the stored session.",
    },
    "record.differs": {
        "fr": "{n} valeur(s) ou statut(s) diffèrent entre la séance enregistrée et la réanalyse.",
        "en": "{n} value(s) or status(es) differ between the stored session and the re-analysis.",
    },
    "record.replace": {
        "fr": "Enregistrer la réanalyse et annuler la séance d'origine",
        "en": "Store the re-analysis and void the original session",
    },
    "record.replace_confirm": {
        "fr": "Je confirme : la séance d'origine reste consultable, annulée avec le motif « réanalysé ».",
        "en": "I confirm: the original session stays visible, voided with the reason \"re-analysed\".",
    },
    "record.replaced": {
        "fr": "Réanalyse enregistrée (séance n° {session}) ; la séance d'origine est annulée (« réanalysé »).",
        "en": "Re-analysis stored (session {session}); the original session is voided (\"re-analysed\").",
    },
    "record.reanalysed_reason": {"fr": "réanalysé (séance n° {session})", "en": "re-analysed (session {session})"},
    "record.reanalysis_comment": {
        "fr": "Réanalyse de la séance n° {session} (version {version}) par {user}.",
        "en": "Re-analysis of session {session} (version {version}) by {user}.",
    },
}
