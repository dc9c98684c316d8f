"""Messages of the limits that protect the shared server: upload sizes, archives, report sizes,
login throttling, concurrent analyses and disk errors (the owners are qc.readers.dicom_io,
qc.mr.piqt, qc.records.auth, qc.records.storage and qc.pipeline)."""

MESSAGES = {
    "err.file_too_large": {
        "fr": "{file} : fichier trop volumineux (plus de {limit_mb} Mo une fois décompressé). Une image de contrôle "
        "fait quelques Mo : envoyez uniquement les images de la séance.",
        "en": "{file}: file too large (over {limit_mb} MB once unpacked). A QC image is a few MB: upload only the "
        "images of this session.",
    },
    "err.upload_too_large": {
        "fr": "Envoi trop volumineux : plus de {limit_mb} Mo une fois décompressé (arrêté à {file}). Envoyez "
        "uniquement les images de la séance.",
        "en": "Upload too large: over {limit_mb} MB once unpacked (stopped at {file}). Upload only the images of "
        "this session.",
    },
    "err.zip_nested": {
        "fr": "{file} : archive .zip dans une archive dans une archive. Un seul niveau d'archive imbriquée est "
        "accepté ; décompressez-la et envoyez les fichiers.",
        "en": "{file}: a .zip inside a .zip inside a .zip. Only one level of nested archive is accepted; unpack "
        "it and upload the files.",
    },
    "err.zip_method": {
        "fr": "{file} : méthode de compression non prise en charge dans l'archive (seules « stockée » et "
        "« deflate », les formats .zip usuels, le sont). Recréez l'archive avec l'outil standard.",
        "en": "{file}: compression method not supported in the archive (only \"stored\" and \"deflate\", the "
        "usual .zip formats, are). Re-create the archive with the standard tool.",
    },
    "err.image_too_large": {
        "fr": "{file} : image annoncée de {rows} × {cols} pixels × {frames} images ({mb} Mo une fois décodée), au-delà "
        "de la limite de {limit_mb} Mo. Vérifiez l'export.",
        "en": "{file}: image declared as {rows} × {cols} pixels × {frames} frames ({mb} MB once decoded), over the "
        "{limit_mb} MB limit. Check the export.",
    },
    "err.session_too_large": {
        "fr": "Trop d'images pour une séance : les {n} premières dépassent déjà {limit_mb} Mo une fois décodées. "
        "Envoyez uniquement les images de la séance.",
        "en": "Too many images for one session: the first {n} already exceed {limit_mb} MB once decoded. Upload "
        "only the images of this session.",
    },
    "piqt.err.too_large": {
        "fr": "{file} : fichier de {mb} Mo, trop volumineux pour un rapport PIQT (un rapport fait quelques dizaines "
        "de ko ; limite {limit_mb} Mo). Vérifiez que c'est bien le rapport HTML exporté par la console.",
        "en": "{file}: a {mb} MB file is too large for a PIQT report (a report is a few tens of kB; limit "
        "{limit_mb} MB). Check that it is the HTML report exported by the console.",
    },
    "err.busy": {
        "fr": "Vous avez déjà {n} analyse(s) en cours. Attendez qu'elle(s) se termine(nt) (ou fermez l'onglet "
        "qui la lance) puis réessayez.",
        "en": "You already have {n} analysis(es) running. Wait for it to finish (or close the tab that runs it) "
        "and try again.",
    },
    "err.disk": {
        "fr": "Écriture impossible dans le dossier de données ({reason}). Rien n'a été enregistré. Libérez de "
        "la place sur le disque ou prévenez l'administrateur, puis réessayez.",
        "en": "Cannot write to the data folder ({reason}). Nothing was stored. Free some disk space or tell the "
        "administrator, then try again.",
    },
    "err.disk_full": {"fr": "disque plein", "en": "disk full"},
    "err.disk_readonly": {"fr": "accès en écriture refusé", "en": "write access denied"},
    "err.disk_io": {"fr": "erreur d'entrée-sortie", "en": "input/output error"},
    "err.disk_missing": {"fr": "dossier introuvable", "en": "folder not found"},
    "err.db_busy": {"fr": "base occupée par une autre écriture", "en": "database busy with another write"},
    "err.database": {
        "fr": "La base de données n'a pas pu être modifiée ({reason}). Rien n'a été enregistré ; réessayez dans "
        "un instant, et prévenez l'administrateur si cela se répète.",
        "en": "The database could not be changed ({reason}). Nothing was stored; try again in a moment, and tell "
        "the administrator if it happens again.",
    },
    "auth.throttled": {
        "fr": "Trop d'essais : attendez {seconds} s avant de réessayer.",
        "en": "Too many attempts: wait {seconds} s before trying again.",
    },
    "auth.busy": {
        "fr": "Beaucoup de connexions en même temps : votre mot de passe n'a pas été vérifié. Réessayez dans "
        "{seconds} s.",
        "en": "Many logins at the same time: your password was not checked. Try again in {seconds} s.",
    },
    "auth.session_ended": {
        "fr": "Votre session a pris fin (compte modifié ou désactivé par un administrateur). Reconnectez-vous.",
        "en": "Your session has ended (account changed or deactivated by an administrator). Log in again.",
    },
}
