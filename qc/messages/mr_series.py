"""Messages of the MR series reader (qc.readers.mr_series): what was set aside and why."""

MESSAGES = {
    "mrs.series_label": {
        "fr": "Série {num}« {desc} » ({n} images)",
        "en": "Series {num}“{desc}” ({n} images)",
    },
    "mrs.aside.duplicate": {
        "fr": "{file} : même fichier que {other}, compté une seule fois.",
        "en": "{file}: same file as {other}, counted once.",
    },
    "mrs.aside.empty": {
        "fr": "{file} : fichier vide (0 octet), écarté.",
        "en": "{file}: empty file (0 bytes), set aside.",
    },
    "mrs.aside.not_dicom": {
        "fr": "{file} : pas un fichier DICOM, écarté.",
        "en": "{file}: not a DICOM file, set aside.",
    },
    "mrs.aside.truncated": {
        "fr": "{file} : fichier DICOM tronqué ou endommagé, écarté.",
        "en": "{file}: truncated or damaged DICOM file, set aside.",
    },
    "mrs.aside.modality": {
        "fr": "{file} : image de modalité {modality}, pas une image IRM, écartée.",
        "en": "{file}: {modality} image, not an MR image, set aside.",
    },
    "mrs.aside.no_image": {
        "fr": "{file} : ce DICOM ne contient pas d'image ({what}), écarté.",
        "en": "{file}: this DICOM holds no image ({what}), set aside.",
    },
    "mrs.aside.no_pixels": {
        "fr": "{file} : pas de données de pixels, écarté.",
        "en": "{file}: no pixel data, set aside.",
    },
    "mrs.aside.localiser": {
        "fr": "{file} : image de repérage (localisateur, « {desc} »), écartée : elle ne sert pas aux mesures.",
        "en": "{file}: localiser image (“{desc}”), set aside: it is not used for measurements.",
    },
    "mrs.aside.three_plane": {
        "fr": "{series} : coupes d'orientations différentes (repérage 3 plans), série écartée.",
        "en": "{series}: slices in different orientations (3-plane localiser), series set aside.",
    },
    "mrs.err.nothing": {
        "fr": "Aucune image IRM analysable parmi les {n} fichiers reçus. {detail}",
        "en": "No MR image that can be analysed among the {n} files received. {detail}",
    },
    "mrs.err.matrix_mismatch": {
        "fr": "{file} : matrice {shape} différente du reste de la série ({expected}). Envoyez une série homogène.",
        "en": "{file}: matrix {shape} differs from the rest of the series ({expected}). Upload a consistent series.",
    },
}
