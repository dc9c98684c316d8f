"""Strings of the ACR high-contrast resolution (hole arrays) part of `mr-acr` (qc/mr/acr_resolution.py)."""

MESSAGES = {
    "mracr.what.holes": {
        "fr": "{array}, trous de {size} mm ({direction}) : {verdict} ; lignes résolues",
        "en": "{array}, {size} mm holes ({direction}): {verdict}; lines resolved",
    },
    "mracr.array.UL": {"fr": "matrice haut-gauche", "en": "upper-left array"},
    "mracr.array.LR": {"fr": "matrice bas-droite", "en": "lower-right array"},
    "mracr.dir.rl": {"fr": "droite-gauche", "en": "right-left"},
    "mracr.dir.tb": {"fr": "haut-bas", "en": "top-bottom"},
    "mracr.holes.resolved": {"fr": "résolue", "en": "resolved"},
    "mracr.holes.unresolved": {"fr": "non résolue", "en": "not resolved"},
    "mracr.overlay.holes": {
        "fr": "Coupe 1 : matrices de trous (vert résolue, rouge non résolue ; en bleu les lignes où les 4 trous sont distincts)",
        "en": "Slice 1: hole arrays (green resolved, red not; blue: the lines where the 4 holes are told apart)",
    },
}
