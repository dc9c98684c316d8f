"""Automatic intake: DICOM receiver, watch folder, PACS/Orthanc retrieval, review queue."""

MESSAGES = {
    "intake.err.not_dicom": {
        "fr": "Objet reçu illisible comme DICOM ({error}) : il n'a pas été gardé.",
        "en": "Received object is not readable as DICOM ({error}): it was not kept.",
    },
    "intake.err.no_uid": {
        "fr": "Objet DICOM sans SOP Instance UID : il n'a pas été gardé (l'envoi doit venir d'une console DICOM).",
        "en": "DICOM object without a SOP Instance UID: it was not kept (send it from a DICOM console).",
    },
    "intake.err.orthanc_http": {
        "fr": "Le serveur Orthanc {url} a répondu par l'erreur HTTP {code} : vérifiez l'adresse et les droits du compte.",
        "en": "The Orthanc server {url} answered with HTTP error {code}: check the address and the account's rights.",
    },
    "intake.err.orthanc_unreachable": {
        "fr": "Le serveur Orthanc {url} ne répond pas ({error}) : vérifiez l'adresse et qu'il est démarré.",
        "en": "The Orthanc server {url} does not answer ({error}): check the address and that it is running.",
    },
    "intake.err.pacs_unreachable": {
        "fr": "Le PACS {aet} ({host}:{port}) refuse l'association : vérifiez son titre AE, son adresse et qu'il nous connaît.",
        "en": "The PACS {aet} ({host}:{port}) refused the association: check its AE title, address and that it knows us.",
    },
    "intake.unassigned.machine": {
        "fr": "Machine inconnue (station {station}, n° de série {serial}) : ajoutez-la ou renseignez son identité dans Paramètres.",
        "en": "Unknown machine (station {station}, serial {serial}): add it or fill in its identity in Settings.",
    },
    "intake.unassigned.test": {
        "fr": "Test non reconnu ({modality} « {label} ») : aucune règle d'orientation ne correspond ; attribuez-le à la main.",
        "en": "Test not recognised ({modality} \"{label}\"): no routing rule matches; assign it by hand.",
    },
    "intake.unassigned.date": {
        "fr": "Date d'acquisition absente de l'en-tête : attribuez l'image à la main en indiquant sa date.",
        "en": "No acquisition date in the header: assign the image by hand with its date.",
    },
    "err.review_user": {
        "fr": "Indiquez qui valide la séance.",
        "en": "Say who reviews the session.",
    },
    "err.review_reason": {
        "fr": "Un rejet demande un motif : indiquez pourquoi la séance est rejetée.",
        "en": "A rejection needs a reason: say why the session is rejected.",
    },
    "err.review_not_pending": {
        "fr": "La séance {session} n'est pas en attente de validation.",
        "en": "Session {session} is not waiting for review.",
    },
    "intake.review.title": {"fr": "À valider", "en": "To review"},
    "intake.review.caption": {
        "fr": "Séances reçues automatiquement et analysées : elles n'entrent dans l'historique et le rapport mensuel qu'une fois validées.",
        "en": "Sessions received and analysed automatically: they join History and the monthly report only once confirmed.",
    },
    "intake.review.none": {"fr": "Aucune séance en attente de validation.", "en": "No session waiting for review."},
    "intake.review.confirm": {"fr": "Valider", "en": "Confirm"},
    "intake.review.reject": {"fr": "Rejeter", "en": "Reject"},
    "intake.review.reason": {"fr": "Motif du rejet", "en": "Reason for rejection"},
    "intake.review.confirmed": {"fr": "Séance {session} validée.", "en": "Session {session} confirmed."},
    "intake.review.rejected": {"fr": "Séance {session} rejetée.", "en": "Session {session} rejected."},
    "intake.review.pending_home": {
        "fr": "{n} séance(s) reçue(s) automatiquement attendent votre validation.",
        "en": "{n} automatically received session(s) wait for your review.",
    },
    "intake.unassigned.title": {"fr": "Non attribué ou en échec", "en": "Unassigned or failed"},
    "intake.col.received": {"fr": "Reçu le", "en": "Received"},
    "intake.col.source": {"fr": "Origine", "en": "Source"},
    "intake.col.station": {"fr": "Station", "en": "Station"},
    "intake.col.label": {"fr": "Libellé", "en": "Label"},
    "intake.col.state": {"fr": "État", "en": "State"},
    "intake.col.reason": {"fr": "Pourquoi", "en": "Why"},
    "intake.state.waiting": {"fr": "En attente des autres images", "en": "Waiting for the other images"},
    "intake.state.unassigned": {"fr": "Non attribué", "en": "Unassigned"},
    "intake.state.failed": {"fr": "Analyse impossible", "en": "Analysis failed"},
    "intake.assign.objects": {"fr": "Objets à attribuer", "en": "Objects to assign"},
    "intake.assign.test": {"fr": "Test", "en": "Test"},
    "intake.assign.button": {"fr": "Attribuer et analyser", "en": "Assign and analyse"},
    "nav.review": {"fr": "À valider", "en": "To review"},
    "cli.receive.listening": {
        "fr": "Réception DICOM {aet} à l'écoute sur {address}:{port} (Ctrl-C pour arrêter).",
        "en": "DICOM receiver {aet} listening on {address}:{port} (Ctrl-C to stop).",
    },
    "cli.inbox.processed": {
        "fr": "{test} : {images} image(s) → séance {session} à valider ({status}).",
        "en": "{test}: {images} image(s) → session {session} to review ({status}).",
    },
    "cli.inbox.failed": {
        "fr": "{test} : {images} image(s) non analysées : {error}",
        "en": "{test}: {images} image(s) not analysed: {error}",
    },
    "cli.retrieve.done": {
        "fr": "{n} objet(s) récupéré(s) dans la file de réception.",
        "en": "{n} object(s) retrieved into the intake queue.",
    },
}
