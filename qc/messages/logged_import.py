"""Strings of the import of a logged test's history (CSV / Excel), see qc.intake.history_import."""

MESSAGES = {
    "imp.err.stored_meanwhile": {
        "fr": "Des entrées de « {file} » ont été enregistrées entre-temps (autre import ou saisie) : rien n'a été enregistré. Relancez l'import pour revoir les doublons.",
        "en": "Entries of \"{file}\" were stored in the meantime (another import or entry): nothing was stored. Run the import again to review the duplicates.",
    },
    "imp.err.div_zero": {"fr": "division par zéro", "en": "division by zero"},
    "imp.err.math": {"fr": "opération impossible sur ces valeurs", "en": "impossible operation on these values"},
    "imp.err.percent_cell": {
        "fr": "la cellule est au format pourcentage ({value} %) alors que le champ est en {unit} : mettez la colonne au format Nombre et saisissez la valeur en {unit}.",
        "en": "the cell is formatted as a percentage ({value} %) but the field is in {unit}: format the column as Number and enter the value in {unit}.",
    },
    # ---- the whole file
    "imp.err.too_large": {
        "fr": "« {file} » fait {mb} Mo : un historique importé se limite à {limit_mb} Mo. Scindez le fichier (par année, par exemple).",
        "en": "\"{file}\" is {mb} MB: an imported history is limited to {limit_mb} MB. Split the file (by year, for example).",
    },
    "imp.err.too_many_rows": {
        "fr": "« {file} » contient plus de {limit} lignes : scindez-le (par année, par exemple) et importez chaque partie.",
        "en": "\"{file}\" has more than {limit} rows: split it (by year, for example) and import each part.",
    },
    "imp.err.too_many_columns": {
        "fr": "« {file} » a {n} colonnes (au plus {limit}) : gardez la date, les valeurs du test, l'opérateur et le commentaire.",
        "en": "\"{file}\" has {n} columns (at most {limit}): keep the date, the test's values, the operator and the comment.",
    },
    "imp.err.format": {
        "fr": "« {file} » n'est ni un fichier CSV ni un classeur Excel .xlsx : enregistrez-le au format CSV ou .xlsx (Fichier › Enregistrer sous).",
        "en": "\"{file}\" is neither a CSV file nor an Excel .xlsx workbook: save it as CSV or .xlsx (File › Save as).",
    },
    "imp.err.unreadable": {
        "fr": "« {file} » ne peut pas être lu comme classeur Excel : ouvrez-le dans Excel et enregistrez-le de nouveau en .xlsx, ou en CSV.",
        "en": "\"{file}\" cannot be read as an Excel workbook: open it in Excel and save it again as .xlsx, or as CSV.",
    },
    "imp.err.csv": {
        "fr": "« {file} », ligne {line} : le CSV est mal formé. Vérifiez les guillemets de cette ligne.",
        "en": "\"{file}\", line {line}: the CSV is malformed ({reason}). Check the quotes on that line.",
    },
    "imp.err.empty": {
        "fr": "« {file} » ne contient pas de ligne d'en-tête suivie de lignes de valeurs : téléchargez le modèle pour voir le format attendu.",
        "en": "\"{file}\" has no header row followed by rows of values: download the template to see the expected format.",
    },
    "imp.err.not_logged": {
        "fr": "« {test} » n'est pas un test saisi : l'import d'un historique ne concerne que les tests saisis (formulaires).",
        "en": "\"{test}\" is not a logged test: history import applies to logged (form) tests only.",
    },
    # ---- columns
    "imp.err.no_date_column": {
        "fr": "Aucune colonne de date : ajoutez une colonne « Date » (jj/mm/aaaa). La date de chaque mesure est obligatoire et n'est jamais devinée.",
        "en": "No date column: add a \"Date\" column (dd/mm/yyyy). The date of each measurement is required and never guessed.",
    },
    "imp.err.missing_column": {
        "fr": "Colonne « {field} » absente : elle est obligatoire pour « {test} ». Colonnes attendues : {expected}.",
        "en": "Column \"{field}\" is missing: it is required for \"{test}\". Expected columns: {expected}.",
    },
    "imp.err.unknown_column": {
        "fr": "Colonne « {column} » : elle ne correspond à aucun champ de « {test} ». Renommez-la (colonnes reconnues : {expected}) ou retirez-la du fichier.",
        "en": "Column \"{column}\" matches no field of \"{test}\". Rename it (known columns: {expected}) or remove it from the file.",
    },
    "imp.err.duplicate_column": {
        "fr": "Colonnes « {other} » et « {column} » : toutes deux désignent « {what} ». Gardez-en une seule.",
        "en": "Columns \"{other}\" and \"{column}\" both stand for \"{what}\". Keep only one.",
    },
    "imp.err.unit_mismatch": {
        "fr": "Colonne « {column} » : l'unité « {unit} » n'est pas celle du champ « {field} » ({expected}). Convertissez les valeurs en {expected} et renommez la colonne.",
        "en": "Column \"{column}\": the unit \"{unit}\" is not the one of \"{field}\" ({expected}). Convert the values to {expected} and rename the column.",
    },
    # ---- rows
    "imp.err.row": {
        "fr": "Ligne {line}, colonne « {column} » : {message}",
        "en": "Line {line}, column \"{column}\": {message}",
    },
    "imp.err.row_line": {
        "fr": "Ligne {line} : {message}",
        "en": "Line {line}: {message}",
    },
    "imp.cell.required": {
        "fr": "la valeur est obligatoire : saisissez-la.",
        "en": "the value is required: enter it.",
    },
    "imp.cell.not_a_number": {
        "fr": "« {value} » n'est pas un nombre (par exemple 12,5 ou 12.5).",
        "en": "\"{value}\" is not a number (e.g. 12.5 or 12,5).",
    },
    "imp.cell.out_of_range": {
        "fr": "{value} {unit} est impossible (valeurs admises de {min} à {max} {unit}). Vérifiez la valeur.",
        "en": "{value} {unit} is impossible (allowed {min} to {max} {unit}). Check the value.",
    },
    "imp.cell.comment_needed": {
        "fr": "non conforme : un commentaire est obligatoire (colonne « {field} — commentaire »).",
        "en": "failed: a comment is required (column \"{field} — comment\").",
    },
    "imp.cli.skip_hint": {
        "fr": "Relancez avec --skip-duplicates pour les ignorer.",
        "en": "Run again with --skip-duplicates to skip them.",
    },
    "imp.err.date_missing": {
        "fr": "la date est vide : chaque mesure doit être datée (jj/mm/aaaa).",
        "en": "the date is empty: every measurement must be dated (dd/mm/yyyy).",
    },
    "imp.err.date_bad": {
        "fr": "« {value} » n'est pas une date : écrivez jj/mm/aaaa ou aaaa-mm-jj (heure facultative, ex. 03/10/2026 08:30).",
        "en": "\"{value}\" is not a date: write dd/mm/yyyy or yyyy-mm-dd (time optional, e.g. 03/10/2026 08:30).",
    },
    "imp.err.date_two_digit_year": {
        "fr": "« {value} » : l'année est sur deux chiffres ; écrivez-la en entier (ex. 03/10/2026).",
        "en": "\"{value}\": the year has two digits; write it in full (e.g. 03/10/2026).",
    },
    "imp.err.date_future": {
        "fr": "le {value} est dans le futur : vérifiez la date (jj/mm/aaaa, le jour d'abord).",
        "en": "{value} is in the future: check the date (dd/mm/yyyy, day first).",
    },
    "imp.err.extra_cells": {
        "fr": "la ligne a {n} cellules pour {m} colonnes d'en-tête. Avec la virgule comme séparateur, écrivez les décimales avec un point (0.5) ou utilisez le point-virgule.",
        "en": "the line has {n} cells for {m} header columns. With a comma as separator, write decimals with a point (0.5) or use a semicolon.",
    },
    "imp.err.not_a_verdict": {
        "fr": "« {value} » n'est pas un verdict : écrivez Conforme ou Non conforme (ou oui / non, 1 / 0).",
        "en": "\"{value}\" is not a verdict: write Pass or Fail (or yes / no, 1 / 0).",
    },
    "imp.err.cell_too_long": {
        "fr": "texte de {n} caractères (au plus {limit}) : raccourcissez-le.",
        "en": "text of {n} characters (at most {limit}): shorten it.",
    },
    "imp.err.formula_no_value": {
        "fr": "la cellule contient une formule sans valeur calculée : ouvrez le fichier dans Excel et enregistrez-le, ou saisissez la valeur.",
        "en": "the cell holds a formula with no computed value: open the file in Excel and save it, or type the value.",
    },
    "imp.err.unnamed_column": {
        "fr": "la colonne {col} n'a pas d'en-tête mais contient des valeurs : nommez-la ou videz-la.",
        "en": "column {col} has no header but holds values: name it or empty it.",
    },
    "imp.err.formula": {
        "fr": "les valeurs dérivées ne peuvent pas être calculées ({error}) : vérifiez les valeurs de la ligne.",
        "en": "the derived values cannot be computed ({error}): check the values of the line.",
    },
    # ---- storing
    "imp.err.nothing_stored": {
        "fr": "{n} problème(s) dans le fichier : rien n'a été enregistré. Corrigez le fichier et importez-le de nouveau.",
        "en": "{n} problem(s) in the file: nothing was stored. Correct the file and import it again.",
    },
    "imp.err.duplicates_unconfirmed": {
        "fr": "{n} entrée(s) déjà enregistrée(s) ou répétée(s) (même jour, mêmes valeurs) : confirmez qu'elles doivent être ignorées. Rien n'a été enregistré.",
        "en": "Entries already stored or repeated (same day, same values): {n}. Confirm they are to be skipped. Nothing was stored.",
    },
    "imp.err.nothing_new": {
        "fr": "« {file} » : toutes les entrées sont déjà enregistrées, il n'y a rien de nouveau à importer.",
        "en": "\"{file}\": every entry is already stored, there is nothing new to import.",
    },
    "imp.dup.stored": {"fr": "Déjà enregistrée (séance n° {session})", "en": "Already stored (session no. {session})"},
    "imp.dup.in_file": {"fr": "Identique à la ligne {line}", "en": "Same as line {line}"},
    # ---- notes (reported, not blocking)
    "imp.note.derived": {
        "fr": "Colonne « {column} » : « {field} » est recalculé par l'application à partir des valeurs importées ; cette colonne n'est pas importée.",
        "en": "Column \"{column}\": \"{field}\" is recomputed by the app from the imported values; this column is not imported.",
    },
    "imp.note.other_sheets": {
        "fr": "Seule la première feuille « {sheet} » est lue ; feuille(s) non lue(s) : {others}. Importez-les séparément.",
        "en": "Only the first sheet \"{sheet}\" is read; sheet(s) not read: {others}. Import them separately.",
    },
    "imp.note.empty_column": {
        "fr": "Colonne « {column} » : inconnue et vide, elle est ignorée.",
        "en": "Column \"{column}\": unknown and empty, it is ignored.",
    },
    "imp.note.same_day": {
        "fr": "Ligne {line} : une autre entrée existe déjà le {date} (séance n° {session}) avec d'autres valeurs ; les deux seront conservées.",
        "en": "Line {line}: another entry already exists on {date} (session no. {session}) with other values; both will be kept.",
    },
    # ---- columns of the template and of the preview
    "imp.col.date": {"fr": "Date", "en": "Date"},
    "imp.col.date_template": {"fr": "Date (jj/mm/aaaa)", "en": "Date (dd/mm/yyyy)"},
    "imp.col.operator": {"fr": "Opérateur", "en": "Operator"},
    "imp.col.comment": {"fr": "Commentaire", "en": "Comment"},
    "imp.col.line": {"fr": "Ligne", "en": "Line"},
    "imp.col.status": {"fr": "Résultat", "en": "Result"},
    "imp.col.duplicate": {"fr": "Doublon", "en": "Duplicate"},
    # ---- page and CLI
    "imp.ui.expander": {"fr": "Importer un historique (CSV, Excel)", "en": "Import a history (CSV, Excel)"},
    "imp.ui.help": {
        "fr": "Une ligne par entrée, une colonne par champ (intitulés du modèle, en français ou en anglais), une colonne « Date » "
              "obligatoire (jj/mm/aaaa ou aaaa-mm-jj). CSV avec « ; » et virgule décimale, ou « , » et point ; ou classeur Excel .xlsx "
              "(première feuille). Chaque ligne est vérifiée comme le formulaire et jugée avec la tolérance en vigueur à sa date. "
              "Une seule ligne en erreur et rien n'est enregistré.",
        "en": "One row per entry, one column per field (the template's headers, in French or English), a required \"Date\" column "
              "(dd/mm/yyyy or yyyy-mm-dd). CSV with \";\" and a decimal comma, or \",\" and a point; or an Excel .xlsx workbook "
              "(first sheet). Each row is checked like the form and judged with the tolerance in force on its date. "
              "One bad row and nothing is stored.",
    },
    "imp.ui.template": {"fr": "Télécharger le modèle (CSV)", "en": "Download the template (CSV)"},
    "imp.ui.upload": {"fr": "Fichier d'historique (CSV ou .xlsx, 5 Mo au plus)", "en": "History file (CSV or .xlsx, 5 MB at most)"},
    "imp.ui.summary": {
        "fr": "{n} entrée(s) lue(s) de « {file} » pour {machine} : {passed} conforme(s), {warned} en alerte, {failed} non conforme(s).",
        "en": "Entries read from \"{file}\" for {machine}: {n} ({passed} pass, {warned} warning, {failed} fail).",
    },
    "imp.ui.errors": {
        "fr": "{n} problème(s) : rien ne sera enregistré tant que le fichier n'est pas corrigé.",
        "en": "{n} problem(s): nothing will be stored until the file is corrected.",
    },
    "imp.ui.duplicates": {
        "fr": "Doublons : {n} (ligne(s) {lines}) — même jour et mêmes valeurs qu'une entrée déjà enregistrée ou qu'une ligne précédente du fichier. "
              "Rien n'est enregistré tant que vous n'avez pas confirmé qu'ils doivent être ignorés.",
        "en": "Duplicates: {n} (line(s) {lines}) — same day and values as an entry already stored or an earlier line of the file. "
              "Nothing is stored until you confirm they are to be skipped.",
    },
    "imp.ui.skip_duplicates": {
        "fr": "Ignorer les doublons ({n}) et enregistrer les autres entrées",
        "en": "Skip the duplicates ({n}) and store the other entries",
    },
    "imp.ui.store": {"fr": "Enregistrer {n} entrées", "en": "Store {n} entries"},
    "imp.ui.store_one": {"fr": "Enregistrer 1 entrée", "en": "Store 1 entry"},
    "imp.ui.stored": {
        "fr": "{n} entrée(s) enregistrée(s) (séances n° {first} à {last}) ; {skipped} doublon(s) ignoré(s).",
        "en": "Entries stored: {n} (sessions no. {first} to {last}); duplicates skipped: {skipped}.",
    },
    "imp.cli.dry_run": {
        "fr": "Essai : {n} entrée(s) seraient enregistrées ; rien n'a été enregistré.",
        "en": "Dry run: entries that would be stored: {n}; nothing was stored.",
    },
    "display.audit.import_logged": {"fr": "Historique importé", "en": "History imported"},
    "display.col.n_stored": {"fr": "Entrées enregistrées", "en": "Entries stored"},
    "display.col.n_skipped": {"fr": "Doublons ignorés", "en": "Duplicates skipped"},
}
