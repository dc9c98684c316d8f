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
    "intake.unassigned.implausible_date": {
        "fr": "La date de l'en-tête ({date}) n'est pas une date d'acquisition (avant 1990 ou dans le futur) : attribuez l'image à la main en indiquant sa date.",
        "en": "The header date ({date}) is not an acquisition date (before 1990 or in the future): assign the image by hand with its date.",
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
    "intake.unassigned.none": {
        "fr": "Aucun fichier reçu en attente : tout ce qui est arrivé a été attribué à une machine et à un test.",
        "en": "No received file waiting: everything that arrived was assigned to a machine and a test.",
    },
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
    "intake.err.rule": {
        "fr": "Règle d'orientation incomplète : {rule} (il faut au moins « test » et « pattern »).",
        "en": "Incomplete routing rule: {rule} (it needs at least \"test\" and \"pattern\").",
    },
    "intake.err.pattern": {
        "fr": "Motif de règle invalide « {pattern} » : {error}.",
        "en": "Invalid rule pattern \"{pattern}\": {error}.",
    },
    "intake.err.numbers": {
        "fr": "La fenêtre, le délai de silence et les nombres d'images attendus doivent être positifs.",
        "en": "The window, the quiet delay and the expected image counts must be positive.",
    },
    "intake.err.json": {
        "fr": "Le texte des règles ou des nombres d'images n'est pas du JSON valide : {error}.",
        "en": "The rules or image counts text is not valid JSON: {error}.",
    },
    "intake.settings.title": {"fr": "Réglages de la réception automatique", "en": "Automatic intake settings"},
    "intake.settings.rules": {
        "fr": "Règles d'orientation (JSON ; par règle : le test, le champ lu — texte de l'en-tête ou type d'image —, le motif, la modalité)",
        "en": "Routing rules (JSON; per rule: the test, the field read — header text or image type —, the pattern, the modality)",
    },
    "intake.settings.expected": {"fr": "Images attendues par séance (JSON)", "en": "Images expected per session (JSON)"},
    "intake.settings.window": {"fr": "Fenêtre de regroupement (min)", "en": "Grouping window (min)"},
    "intake.settings.quiet": {"fr": "Analyse après silence de (min)", "en": "Analyse after quiet of (min)"},
    "intake.settings.save": {"fr": "Enregistrer les réglages", "en": "Save settings"},
    "intake.settings.saved": {"fr": "Réglages enregistrés.", "en": "Settings saved."},
    "intake.aside.reason": {"fr": "Motif pour écarter", "en": "Reason for setting aside"},
    "intake.aside.button": {"fr": "Écarter (reçu par erreur)", "en": "Set aside (received by mistake)"},
    "intake.aside.confirm": {
        "fr": "Je confirme : ces objets sont écartés (gardés sur disque, tracés dans le journal).",
        "en": "I confirm: these objects are set aside (kept on disk, recorded in the audit log).",
    },
    "err.confirm_required": {
        "fr": "Cochez la case de confirmation avant d'écarter.",
        "en": "Tick the confirmation box before setting aside.",
    },
    "nav.viewer": {"fr": "Visionneuse", "en": "Viewer"},
    "viewer.title": {"fr": "Visionneuse", "en": "Viewer"},
    "viewer.caption": {
        "fr": "Toute image enregistrée ou reçue : fenêtrage, zoom et déplacement (molette et glisser), mesure de distance, superposition de l'analyse, en-tête DICOM.",
        "en": "Any stored or received image: window/level, zoom and pan (wheel and drag), distance measurement, the analysis overlay, DICOM header.",
    },
    "viewer.none": {"fr": "Aucune image enregistrée ni reçue pour l'instant.", "en": "No image stored or received yet."},
    "viewer.session": {"fr": "Séance", "en": "Session"},
    "viewer.received": {"fr": "Reçu", "en": "Received"},
    "viewer.regenerated": {"fr": "démo, image régénérée à l'ouverture", "en": "demo, image generated again when opened"},
    "viewer.err.regenerated_differ": {
        "fr": "Les images de démonstration de la séance {session} ne se régénèrent pas à l'identique (sha256 différent) : elles ne sont pas affichées.",
        "en": "The demo images of session {session} do not regenerate identically (different sha256): they are not shown.",
    },
    "viewer.regenerating": {"fr": "Images de démonstration régénérées et vérifiées (sha256)…", "en": "Generating the demo images again and checking them (sha256)…"},
    "viewer.image": {"fr": "Image", "en": "Image"},
    "viewer.window": {"fr": "Largeur de fenêtre", "en": "Window width"},
    "viewer.level": {"fr": "Niveau (centre de fenêtre)", "en": "Window level"},
    "viewer.mode": {"fr": "Souris", "en": "Mouse"},
    "viewer.mode.zoom": {"fr": "Zoom / déplacement", "en": "Zoom / pan"},
    "viewer.mode.measure": {"fr": "Mesure", "en": "Measure"},
    "viewer.invert": {"fr": "Inverser les niveaux de gris", "en": "Invert grey levels"},
    "viewer.overlay": {"fr": "Afficher ce que l'analyse a trouvé", "en": "Show what the analysis found"},
    "viewer.overlay_image": {"fr": "Image analysée", "en": "Analysed image"},
    "viewer.axis_iso": {"fr": "mm à l'isocentre", "en": "mm at isocentre"},
    "viewer.axis_image": {"fr": "mm dans le plan image", "en": "mm in the image plane"},
    "viewer.distance": {
        "fr": "Distance A–B : {d} mm ({plane}) — Δx {dx} mm, Δy {dy} mm",
        "en": "Distance A–B: {d} mm ({plane}) — Δx {dx} mm, Δy {dy} mm",
    },
    "viewer.measure_help": {
        "fr": "Tracez un rectangle du point A au point B : la distance A–B (sa diagonale) s'affiche.",
        "en": "Draw a rectangle from point A to point B: the distance A–B (its diagonal) is shown.",
    },
    "viewer.pixel": {"fr": "Pixel : {row} × {col} mm ({plane})", "en": "Pixel: {row} × {col} mm ({plane})"},
    "viewer.header": {"fr": "En-tête DICOM", "en": "DICOM header"},
    "viewer.col.tag": {"fr": "Étiquette", "en": "Tag"},
    "viewer.col.name": {"fr": "Nom", "en": "Name"},
    "viewer.col.value": {"fr": "Valeur", "en": "Value"},
    "viewer.err.unreadable": {
        "fr": "{file} : fichier illisible dans le dossier de données (déplacé ou supprimé ?). Prévenez "
        "l'administrateur.",
        "en": "{file}: file unreadable in the data folder (moved or deleted?). Tell the administrator.",
    },
    "viewer.err.no_image": {
        "fr": "{file} : aucune image dans ce fichier (pas de données de pixels).",
        "en": "{file}: no image in this file (no pixel data).",
    },
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
    "intake.err.port_in_use": {
        "fr": "Port déjà utilisé : le port {port} ({address}) est déjà pris, sans doute par un autre récepteur DICOM "
        "ou une autre copie de l'application. Arrêtez-la, ou choisissez un autre port (--port) et donnez-le à "
        "l'émetteur.",
        "en": "Port already in use: port {port} ({address}) is taken, probably by another DICOM receiver or another "
        "copy of the app. Stop it, or choose another port (--port) and give it to the sender.",
    },
    "intake.err.port_denied": {
        "fr": "Port {port} refusé par le système : les ports sous 1024 demandent des droits d'administrateur. "
        "Choisissez un port au-dessus de 1024 (11112 est l'usage DICOM).",
        "en": "Port {port} refused by the system: ports below 1024 need administrator rights. Choose a port above "
        "1024 (11112 is the DICOM custom).",
    },
    "intake.err.port_other": {
        "fr": "Impossible d'écouter sur {address}:{port} ({error}). Vérifiez l'adresse et le port du récepteur.",
        "en": "Cannot listen on {address}:{port} ({error}). Check the receiver's address and port.",
    },
    "intake.refused.quota": {
        "fr": "Boîte de réception pleine : {n} image(s) envoyée(s) par {sender} refusée(s) {when}, "
        "car le quota de {limit} Mo de la boîte de réception était atteint.{what} Ces images ne sont pas dans "
        "l'application. Faites de la place : validez ou rejetez les sessions en attente (les fichiers reçus des "
        "sessions validées ou rejetées sont alors effacés de la boîte, les plus anciens d'abord ; chaque session garde "
        "sa copie), ou demandez à l'administrateur du serveur de relever le quota ; puis renvoyez ces images depuis la "
        "console.",
        "en": "Inbox full: {n} image(s) sent by {sender} refused {when}, because the inbox quota of "
        "{limit} MB was reached.{what} These images are not in the app. Make room: confirm or reject the sessions "
        "waiting for review (the received files of reviewed sessions are then deleted from the inbox, oldest first; "
        "each session keeps its own copy), or ask the server's administrator to raise the quota; then send these "
        "images again from the console.",
    },
    "intake.refused.too_large": {
        "fr": "Objet trop gros refusé : {n} envoi(s) de {sender} coupé(s) {when}, car un objet "
        "dépassait la limite de {limit} Mo par objet.{what} Rien de cet objet n'a été gardé, ni des images envoyées "
        "après lui dans le même envoi. Vérifiez à la console ce qui a été envoyé (une image de CQ fait quelques Mo) ; "
        "si l'objet est voulu, demandez à l'administrateur du serveur de relever la limite de taille ; puis renvoyez "
        "les images manquantes.",
        "en": "Object too large refused: {n} send(s) from {sender} cut {when}, because an object "
        "was over the limit of {limit} MB per object.{what} Nothing of that object was kept, nor the images sent after "
        "it in the same send. Check at the console what was sent (a QC image is a few MB); if the object is meant, ask "
        "the server's administrator to raise the size limit; then send the missing images again.",
    },
    "intake.refused.what": {
        "fr": " Dernier objet refusé : {what}.",
        "en": " Latest object refused: {what}.",
    },
    "intake.refused.when_one": {
        "fr": "le {last}",
        "en": "on {last}",
    },
    "intake.refused.when_range": {
        "fr": "entre le {first} et le {last}",
        "en": "between {first} and {last}",
    },
}
