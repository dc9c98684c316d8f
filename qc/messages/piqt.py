"""Messages of the PIQT report import (qc.mr.piqt): refusals, warnings, chart titles."""

MESSAGES = {
    "piqt.err.not_piqt": {
        "fr": "{file} n'est pas un rapport PIQT : aucun tableau de résultats (ligne « Scan_Name ») n'y a été trouvé. "
        "Exportez le rapport HTML du PIQT depuis la console IRM (fichier .htm/.html) et envoyez-le tel quel.",
        "en": "{file} is not a PIQT report: no results table (\"Scan_Name\" row) was found in it. "
        "Export the PIQT HTML report from the MR console (.htm/.html file) and upload it unchanged.",
    },
    "piqt.err.dicom": {
        "fr": "{file} est un fichier DICOM (une image), pas un rapport PIQT. Ce test lit le rapport HTML exporté "
        "par la console IRM ; les images DICOM se déposent sur les pages des tests d'imagerie MV.",
        "en": "{file} is a DICOM file (an image), not a PIQT report. This test reads the HTML report exported by "
        "the MR console; DICOM images go on the MV imaging test pages.",
    },
    "piqt.err.truncated": {
        "fr": "{file} : rapport PIQT incomplet (le fichier s'arrête avant la fin du document HTML). Rien n'a été "
        "enregistré. Ré-exportez le rapport depuis la console et réessayez.",
        "en": "{file}: incomplete PIQT report (the file stops before the end of the HTML document). Nothing was "
        "stored. Export the report again from the console and retry.",
    },
    "piqt.err.no_values": {
        "fr": "{file} : le rapport PIQT ne contient aucune valeur mesurée. Vérifiez que le PIQT a bien été "
        "exécuté jusqu'au bout avant l'export.",
        "en": "{file}: the PIQT report holds no measured value. Check that the PIQT ran to completion before "
        "the export.",
    },
    "piqt.err.layout": {
        "fr": "{file} : section « {section} » : impossible d'attribuer les {n_cols} colonnes de valeurs aux "
        "{n_scans} séquences (ligne « {row} »). Rien n'a été enregistré ; signalez ce rapport avec le fichier.",
        "en": "{file}: section \"{section}\": the {n_cols} value columns cannot be assigned to the {n_scans} "
        "scans (row \"{row}\"). Nothing was stored; please report it with the file.",
    },
    "piqt.err.several_files": {
        "fr": "{n} fichiers reçus ({files}) : le test PIQT analyse un seul rapport à la fois. Envoyez-les un par un.",
        "en": "{n} files received ({files}): the PIQT test analyses one report at a time. Upload them one by one.",
    },
    "piqt.warn.unknown_section": {
        "fr": "Section inconnue « {section} » : {n} valeur(s) conservée(s) telles quelles. Vérifiez-les ; "
        "signalez la section si elle doit être reconnue.",
        "en": "Unknown section \"{section}\": {n} value(s) kept as they are. Check them; report the section "
        "if it should be recognised.",
    },
    "piqt.warn.untitled_section": {
        "fr": "Un tableau de résultats sans titre de section a été lu ({n} valeur(s)), rangé sous « {section} ».",
        "en": "A results table without a section title was read ({n} value(s)), filed under \"{section}\".",
    },
    "piqt.warn.unknown_criterion": {
        "fr": "« {parameter} » ({item}) : critère « {criterion} » non reconnu ; valeur gardée sans limite.",
        "en": "\"{parameter}\" ({item}): criterion \"{criterion}\" not recognised; value kept without a limit.",
    },
    "piqt.warn.row_count": {
        "fr": "Section « {section} », ligne « {row} » : {n} valeur(s) pour {n_cols} colonne(s) ; valeurs "
        "attribuées dans l'ordre aux premières colonnes. Vérifiez l'attribution.",
        "en": "Section \"{section}\", row \"{row}\": {n} value(s) for {n_cols} column(s); values assigned in "
        "order to the first columns. Check the assignment.",
    },
    "piqt.warn.duplicate": {
        "fr": "« {parameter} » ({item}) apparaît plusieurs fois dans le rapport ; l'occurrence suivante est "
        "nommée « {new_item} ».",
        "en": "\"{parameter}\" ({item}) appears more than once in the report; the next occurrence is named "
        "\"{new_item}\".",
    },
    "piqt.warn.no_scan_date": {
        "fr": "Le rapport ne donne pas de Scan_Date : la date de génération du rapport ({date}) est utilisée "
        "comme date d'acquisition.",
        "en": "The report gives no Scan_Date: the report generation date ({date}) is used as the acquisition date.",
    },
    "piqt.warn.no_date": {
        "fr": "Le rapport ne donne ni Scan_Date ni date de génération : saisissez la date d'acquisition à la main.",
        "en": "The report gives neither a Scan_Date nor a generation date: enter the acquisition date by hand.",
    },
    "piqt.warn.several_days": {
        "fr": "Les séquences ont été acquises sur plusieurs jours ({dates}) ; la première date est retenue.",
        "en": "The scans were acquired on several days ({dates}); the first date is used.",
    },
    "piqt.warn.system_differs": {
        "fr": "Le système indiqué diffère d'une section à l'autre ({field} : « {a} » puis « {b} »). Vérifiez que "
        "le rapport concerne une seule machine.",
        "en": "The system differs between sections ({field}: \"{a}\" then \"{b}\"). Check that the report is about "
        "one machine only.",
    },
    "piqt.warn.missing": {
        "fr": "{n} valeur(s) absente(s) dans le rapport (« - » ou valeur non numérique) : {which}. Une valeur absente qui a un "
        "critère compte comme non conforme.",
        "en": "{n} value(s) missing from the report (\"-\" or not a number): {which}. A missing value that has a "
        "criterion counts as failing.",
    },
    "piqt.chart.section": {
        "fr": "{section} : valeurs et critères du rapport",
        "en": "{section}: values and report criteria",
    },
    "piqt.chart.value": {"fr": "Valeur", "en": "Value"},
    "piqt.chart.column": {"fr": "Séquence / écho", "en": "Scan / echo"},
    "piqt.chart.status": {"fr": "Statut", "en": "Status"},
    "piqt.status.pass": {"fr": "Conforme", "en": "Pass"},
    "piqt.status.fail": {"fr": "Hors critère", "en": "Fail"},
    "piqt.status.warning": {"fr": "Alerte", "en": "Warning"},
    "piqt.status.none": {"fr": "Sans critère", "en": "No criterion"},
}
