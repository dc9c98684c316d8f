"""Strings of backups and restores (`qc.records.backup`): refusals, CLI/page reports and labels."""

MESSAGES = {
    "backup.err.invalid": {
        "fr": "La sauvegarde {backup} est incomplète ou abîmée ({problems}) : restauration refusée. Choisissez une autre sauvegarde.",
        "en": "Backup {backup} is incomplete or damaged ({problems}): restore refused. Choose another backup.",
    },
    "backup.err.newer": {
        "fr": (
            "La base actuelle contient {sessions} séance(s) et {changes} modification(s) enregistrées après la sauvegarde {backup} : "
            "elles seraient perdues. Restauration refusée ; forcez-la (--force) seulement si c'est voulu "
            "(la base actuelle sera conservée à part, jamais supprimée)."
        ),
        "en": (
            "The current database holds {sessions} session(s) and {changes} change(s) recorded after backup {backup}: "
            "they would be lost. Restore refused; force it (--force) only if that is intended "
            "(the current database is kept aside, never deleted)."
        ),
    },
    "backup.err.no_database": {
        "fr": "Aucune base de données à sauvegarder dans {folder}.",
        "en": "No database to back up in {folder}.",
    },
    "backup.done": {
        "fr": "Sauvegarde créée : {path} ({sessions} séances, {files} fichiers).",
        "en": "Backup made: {path} ({sessions} sessions, {files} files).",
    },
    "backup.restored": {
        "fr": "Base restaurée depuis {backup} ({sessions} séances). L'ancienne base est conservée sous {moved}. Redémarrez l'application.",
        "en": "Database restored from {backup} ({sessions} sessions). The previous database is kept as {moved}. Restart the app.",
    },
    "backup.verify.ok": {
        "fr": "Sauvegarde {backup} vérifiée : intégrité OK, {sessions} séances, {files} fichiers contrôlés.",
        "en": "Backup {backup} verified: integrity OK, {sessions} sessions, {files} files checked.",
    },
    "backup.verify.failed": {
        "fr": "Sauvegarde {backup} NON valide : {problems}.",
        "en": "Backup {backup} NOT valid: {problems}.",
    },
    "backup.none": {"fr": "Aucune sauvegarde.", "en": "No backup."},
    "backup.title": {"fr": "Sauvegardes", "en": "Backups"},
    "backup.button": {"fr": "Sauvegarder maintenant", "en": "Back up now"},
    "backup.col.name": {"fr": "Sauvegarde", "en": "Backup"},
    "backup.col.created_at": {"fr": "Créée le", "en": "Created"},
    "backup.col.sessions": {"fr": "Séances", "en": "Sessions"},
    "backup.col.files": {"fr": "Fichiers", "en": "Files"},
    "backup.col.size_mb": {"fr": "Base (Mo)", "en": "Database (MB)"},
    "backup.schedule": {
        "fr": "Sauvegarde automatique toutes les {hours:g} h, conservation {days:g} jours (QC_BACKUP_INTERVAL_HOURS, QC_BACKUP_KEEP_DAYS).",
        "en": "Automatic backup every {hours:g} h, kept {days:g} days (QC_BACKUP_INTERVAL_HOURS, QC_BACKUP_KEEP_DAYS).",
    },
    "backup.schedule_off": {
        "fr": "Sauvegarde automatique désactivée (QC_BACKUP_INTERVAL_HOURS=0).",
        "en": "Automatic backup is off (QC_BACKUP_INTERVAL_HOURS=0).",
    },
    "backup.offsite": {
        "fr": "Les sauvegardes sont sur le même disque que les données : copiez le dossier backups/ sur une autre machine.",
        "en": "Backups sit on the same disk as the data: copy the backups/ folder to another machine.",
    },
}
