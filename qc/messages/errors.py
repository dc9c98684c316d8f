"""Error messages for bad input: which file, what is wrong, what to do."""

MESSAGES = {
    "err.no_files": {
        "fr": "Aucun fichier reçu. Choisissez un ou plusieurs fichiers DICOM (ou un .zip) puis relancez l'analyse.",
        "en": "No file received. Choose one or more DICOM files (or a .zip) and run the analysis again.",
    },
    "err.no_such_file": {
        "fr": "{file} : fichier ou dossier introuvable. Vérifiez le chemin.",
        "en": "{file}: no such file or folder. Check the path.",
    },
    "err.empty_file": {
        "fr": "{file} : le fichier est vide (0 octet). Ré-exportez-le depuis la console.",
        "en": "{file}: the file is empty (0 bytes). Export it again from the console.",
    },
    "err.zip_empty": {
        "fr": "{file} : l'archive .zip ne contient aucun fichier. Vérifiez l'export.",
        "en": "{file}: the .zip archive contains no file. Check the export.",
    },
    "err.zip_corrupt": {
        "fr": "{file} : archive .zip illisible ou corrompue. Recréez l'archive ou envoyez les fichiers DICOM directement.",
        "en": "{file}: unreadable or corrupt .zip archive. Re-create it or upload the DICOM files directly.",
    },
    "err.zip_too_large": {
        "fr": "{file} : archive trop volumineuse ({n} fichiers). Envoyez uniquement les images de la séance.",
        "en": "{file}: archive too large ({n} files). Upload only the images of this session.",
    },
    "err.not_dicom": {
        "fr": "{file} n'est pas un fichier DICOM. Exportez les images au format DICOM depuis la console et réessayez.",
        "en": "{file} is not a DICOM file. Export the images as DICOM from the console and try again.",
    },
    "err.truncated": {
        "fr": "{file} : fichier DICOM tronqué ou endommagé (données incomplètes). Ré-exportez l'image et réessayez.",
        "en": "{file}: truncated or damaged DICOM file (incomplete data). Export the image again and retry.",
    },
    "err.no_pixels": {
        "fr": "{file} : ce DICOM ne contient pas d'image (pas de PixelData). Envoyez l'image elle-même, pas un plan ou une structure.",
        "en": "{file}: this DICOM holds no image (no PixelData). Upload the image itself, not a plan or structure set.",
    },
    "err.decode": {
        "fr": "{file} : image compressée ({syntax}) impossible à décoder ici. Ré-exportez-la sans compression.",
        "en": "{file}: compressed image ({syntax}) could not be decoded here. Export it uncompressed.",
    },
    "err.not_2d": {
        "fr": "{file} : image de forme {shape} inattendue (une image 2D est attendue).",
        "en": "{file}: unexpected image shape {shape} (a 2-D image is expected).",
    },
    "err.wrong_modality": {
        "fr": "{file} est une image de modalité {modality}, alors que le test « {test} » attend {expected}. Vérifiez que vous êtes sur la bonne page de test.",
        "en": "{file} is a {modality} image, but the test \"{test}\" expects {expected}. Check that you are on the right test page.",
    },
    "err.wrong_sop": {
        "fr": "{file} : classe SOP {sop} non acceptée par le test « {test} ».",
        "en": "{file}: SOP class {sop} is not accepted by the test \"{test}\".",
    },
    "err.missing_tags": {
        "fr": "{file} : attribut(s) DICOM requis absent(s) : {tags}. L'image ne peut pas être mise à l'échelle ; ré-exportez-la avec l'en-tête complet.",
        "en": "{file}: required DICOM attribute(s) missing: {tags}. The image cannot be scaled; export it with its full header.",
    },
    "err.same_file_twice": {
        "fr": "{file} est le même fichier que {other}. Retirez le doublon.",
        "en": "{file} is the same file as {other}. Remove the duplicate.",
    },
    "err.duplicate": {
        "fr": "{file} est déjà enregistré dans la séance n° {session} du {date}.",
        "en": "{file} is already stored in session #{session} of {date}.",
    },
    "err.unknown_test": {
        "fr": "Test inconnu « {test} ». Tests disponibles : {known}.",
        "en": "Unknown test \"{test}\". Available tests: {known}.",
    },
    "err.unknown_machine": {
        "fr": "Machine inconnue « {machine} ». Machines enregistrées : {known}. Ajoutez-la dans Paramètres.",
        "en": "Unknown machine \"{machine}\". Known machines: {known}. Add it in Settings.",
    },
    "err.wrong_image": {
        "fr": "{file} : {reason}",
        "en": "{file}: {reason}",
    },
    "err.internal": {
        "fr": "Erreur inattendue pendant l'analyse ({error}). Rien n'a été enregistré. Signalez-la avec le fichier concerné.",
        "en": "Unexpected error during the analysis ({error}). Nothing was stored. Please report it with the file.",
    },
    "warn.no_sid_sad": {
        "fr": "{file} : RTImageSID/RadiationMachineSAD absents ; l'espacement des pixels est pris tel quel à l'isocentre.",
        "en": "{file}: RTImageSID/RadiationMachineSAD absent; pixel spacing taken as at the isocentre.",
    },
    "warn.no_date": {
        "fr": "{file} : pas de date d'acquisition dans l'en-tête DICOM.",
        "en": "{file}: no acquisition date in the DICOM header.",
    },
}
