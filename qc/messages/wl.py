"""Strings of the Winston-Lutz test, the output and MR-to-MV logged tests, and machine events."""

MESSAGES = {
    "wl.err.too_few": {
        "fr": "Winston-Lutz : {n} image reçue ; il en faut au moins 2 (plusieurs angles de bras).",
        "en": "Winston-Lutz: {n} image received; at least 2 are needed (several gantry angles).",
    },
    "wl.err.no_field": {
        "fr": "« {file} » : aucun petit champ d'irradiation entier n'a été trouvé dans l'image (champ absent, coupé par le bord ou trop grand).",
        "en": "\"{file}\": no whole small radiation field was found in the image (missing, cut by the border or too large).",
    },
    "wl.err.no_bb": {
        "fr": "« {file} » : la bille n'a pas été trouvée dans le champ. Vérifiez qu'elle est dans le champ et que l'image n'est pas saturée.",
        "en": "\"{file}\": the BB was not found inside the field. Check that it is in the field and that the image is not saturated.",
    },
    "wl.err.no_angle": {
        "fr": "Angle de bras inconnu pour : {files}. Il n'est ni dans l'en-tête DICOM ni dans le nom du fichier : saisissez-le.",
        "en": "Gantry angle unknown for: {files}. It is neither in the DICOM header nor in the file name: enter it.",
    },
    "wl.warn.low_contrast": {
        "fr": "« {file} » : contraste de la bille faible ({pct} %) ; le centre reste mesuré mais vérifiez l'image.",
        "en": "\"{file}\": low BB contrast ({pct} %); the centre is still measured but check the image.",
    },
    "wl.warn.few_gantry": {
        "fr": "Diamètre de l'isocentre non mesuré : {n} angle(s) de bras distinct(s) avec collimateur et table à 0° ; il en faut au moins 2.",
        "en": "Isocentre diameter not measured: {n} distinct gantry angle(s) with collimator and couch at 0°; at least 2 are needed.",
    },
    "wl.warn.combo": {
        "fr": "Images avec plusieurs axes tournés (non utilisées pour les diamètres d'isocentre, utilisées pour le déplacement de la bille) : {files}.",
        "en": "Images with several axes turned (not used for the isocentre diameters, used for the BB shift): {files}.",
    },
    "wl.overlay.title": {
        "fr": "{item} — axe–bille {d} mm (croix verte : centre du champ ; cercle rouge : bille)",
        "en": "{item} — CAX–BB {d} mm (green cross: field centre; red circle: BB)",
    },
    "wl.dir.x.pos": {"fr": "vers la droite (face au bras)", "en": "to the right (facing the gantry)"},
    "wl.dir.x.neg": {"fr": "vers la gauche (face au bras)", "en": "to the left (facing the gantry)"},
    "wl.dir.y.pos": {"fr": "vers le bras", "en": "towards the gantry"},
    "wl.dir.y.neg": {"fr": "vers le pied de la table", "en": "towards the couch foot"},
    "wl.dir.z.pos": {"fr": "vers le haut", "en": "up"},
    "wl.dir.z.neg": {"fr": "vers le bas", "en": "down"},
    "wl.words.part": {"fr": "de {mm} mm {direction}", "en": "{mm} mm {direction}"},
    "wl.words.move": {"fr": "Déplacer la bille {parts}.", "en": "Move the BB {parts}."},
    "wl.words.none": {"fr": "La bille est à moins de 0,05 mm de l'isocentre sur chaque axe : ne pas la déplacer.",
                      "en": "The BB is within 0.05 mm of the isocentre on every axis: do not move it."},
    "wl.shift.title": {"fr": "Déplacement de la bille vers l'isocentre de rayonnement", "en": "BB shift to the radiation isocentre"},
    "wl.shift.frame": {
        "fr": "Repère salle CEI 61217, vu du pied de la table face au bras : X + vers la droite, Y + vers le bras, Z + vers le haut. "
              "Valeurs = déplacement à appliquer à la bille.",
        "en": "IEC 61217 room frame, seen from the couch foot facing the gantry: X + right, Y + towards the gantry, Z + up. "
              "Values = the move to apply to the BB.",
    },
    "wl.angles.label": {
        "fr": "Angles de bras si absents de l'en-tête et du nom de fichier (un par ligne : fichier = angle)",
        "en": "Gantry angles when neither header nor file name has them (one per line: file = angle)",
    },
    "wl.angles.bad": {"fr": "Ligne non comprise : « {line} » (attendu : fichier = angle).", "en": "Line not understood: \"{line}\" (expected: file = angle)."},
    "wl.bb.label": {"fr": "Diamètre de la bille (mm, vide = mesuré sur l'image)", "en": "BB diameter (mm, empty = measured on the image)"},
    "wl.chart.polar": {"fr": "Vecteurs axe→bille selon l'angle du bras (rayon = distance en mm)", "en": "CAX→BB vectors against gantry angle (radius = distance in mm)"},
    "wl.chart.components": {"fr": "Composantes axe→bille selon l'angle du bras", "en": "CAX→BB components against gantry angle"},
    "wl.chart.image": {"fr": "Image", "en": "Image"},
    "wl.chart.gantry": {"fr": "Angle du bras (°)", "en": "Gantry angle (°)"},
    "wl.chart.distance": {"fr": "Distance axe–bille (mm)", "en": "CAX–BB distance (mm)"},
    "wl.chart.component": {"fr": "Composante", "en": "Component"},
    "wl.chart.u": {"fr": "horizontale de l'image (u)", "en": "image horizontal (u)"},
    "wl.chart.v": {"fr": "verticale de l'image (v)", "en": "image vertical (v)"},
}
