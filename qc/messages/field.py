"""Strings of the MVIC-Champ analyser (`qc.mv.field`): refusals, warnings and chart labels."""

MESSAGES = {
    # reasons given inside err.wrong_image
    "field.reason.blank": {
        "fr": "l'image ne contient aucun signal (image vide ou non irradiée). Chargez les images irradiées du test MVIC-Champ.",
        "en": "the image holds no signal (blank or not irradiated). Upload the irradiated images of the MVIC field test.",
    },
    "field.reason.no_contrast": {
        "fr": "aucun champ irradié ne se détache du fond (image uniforme ?). Le test MVIC-Champ attend un champ rectangulaire entouré de zone non irradiée.",
        "en": "no irradiated field stands out from the background (uniform image?). The MVIC field test expects a rectangular field surrounded by unirradiated area.",
    },
    "field.reason.several": {
        "fr": "{n} zones irradiées séparées trouvées au lieu d'un seul champ rectangulaire (image de lames ou de fentes ?). Chargez-la sur la page du test correspondant.",
        "en": "{n} separate irradiated regions found instead of one rectangular field (a leaf or slit image?). Upload it on that test's page.",
    },
    "field.reason.not_rectangular": {
        "fr": "la zone irradiée n'est pas un rectangle (elle ne remplit que {fill:.0f} % de son cadre). Le test MVIC-Champ attend un champ rectangulaire.",
        "en": "the irradiated region is not a rectangle (it fills only {fill:.0f} % of its bounding box). The MVIC field test expects a rectangular field.",
    },
    "field.reason.too_small": {
        "fr": "le champ trouvé ({w:.1f} × {h:.1f} mm) est trop petit pour ce test (au moins {min:.0f} mm par côté).",
        "en": "the field found ({w:.1f} × {h:.1f} mm) is too small for this test (at least {min:.0f} mm a side).",
    },
    "field.reason.narrow_bands": {
        "fr": "l'image montre {n} bandes étroites parallèles (largeur médiane {width:.1f} mm) et non un champ : elle ressemble à un picket fence (test « {leaves} ») ou à des fentes (test « {slits} »). Chargez-la sur la page de ce test.",
        "en": "the image shows {n} narrow parallel bands (median width {width:.1f} mm), not one field: it looks like a picket fence (\"{leaves}\" test) or slits (\"{slits}\" test). Upload it on that test's page.",
    },
    "field.reason.bands": {
        "fr": "l'image montre {n} bandes parallèles (largeur médiane {width:.1f} mm) et non un champ : elle ressemble à une image du test « {test} » (ouvertures de lames). Chargez-la sur cette page.",
        "en": "the image shows {n} parallel bands (median width {width:.1f} mm), not one field: it looks like an image of the \"{test}\" test (leaf gaps). Upload it on that page.",
    },
    "field.reason.strip": {
        "fr": "la zone irradiée est une fente de {width:.1f} × {length:.0f} mm, pas un champ : elle ressemble à une image du test « {test} » (ou d'une étoile). Chargez-la sur la page de ce test.",
        "en": "the irradiated region is a {width:.1f} × {length:.0f} mm slit, not a field: it looks like an image of the \"{test}\" test (or a starshot). Upload it on that test's page.",
    },
    "field.reason.band_across": {
        "fr": "la zone irradiée est une bande de {width:.1f} mm qui traverse tout le détecteur, pas un champ fermé : elle ressemble à une image du test « {test} ». Chargez-la sur cette page.",
        "en": "the irradiated region is a {width:.1f} mm band running across the whole imager, not a closed field: it looks like an image of the \"{test}\" test. Upload it on that page.",
    },
    "field.reason.bb": {
        "fr": "un petit champ contenant une bille (creux rond au centre) : elle ressemble à une image du test « {test} ». Chargez-la sur cette page.",
        "en": "a small field holding a ball bearing (a round dip in its centre): it looks like an image of the \"{test}\" test. Upload it on that page.",
    },
    "field.reason.all_clipped": {
        "fr": "le champ déborde du détecteur de tous côtés : aucun bord n'est mesurable.",
        "en": "the field runs off the imager on every side: no edge can be measured.",
    },
    "field.reason.no_edges": {
        "fr": "aucun bord du champ n'a pu être ajusté (profils sans front net).",
        "en": "no field edge could be fitted (profiles without a clear edge).",
    },
    # warnings
    "field.warn.clipped": {
        "fr": "{file} : le champ touche le bord du détecteur côté {sides} ; ces bords ne sont pas mesurés.",
        "en": "{file}: the field touches the imager border on side {sides}; those edges are not measured.",
    },
    "field.warn.edge_failed": {
        "fr": "{file} : bord {side} non ajusté (trop peu de points de bord fiables).",
        "en": "{file}: edge {side} not fitted (too few reliable edge points).",
    },
    "field.warn.outliers": {
        "fr": "{file} : bord {side} : {n} points de bord sur {total} écartés comme aberrants.",
        "en": "{file}: edge {side}: {n} of {total} edge points rejected as outliers.",
    },
    "field.warn.no_nominal": {
        "fr": "{file} : champ mesuré {sx} × {sy} mm sans taille nominale connue (ni dans l'en-tête DICOM, ni indiquée pour la séance, ni à moins de {limit:g} mm d'un champ de la machine : {known}) ; écart de taille non mesuré (Non mesuré). Indiquez le champ nominal (page ou option --nominal 100x100) ou ajoutez-le aux champs de la machine.",
        "en": "{file}: measured field {sx} × {sy} mm has no known nominal size (not in the DICOM header, not given for the session, not within {limit:g} mm of a field of the machine: {known}); size error not measured (Not measured). Give the nominal field (on the page or --nominal 100x100) or add it to the machine's fields.",
    },
    "field.warn.asymmetric_nominal": {
        "fr": "{file} : le champ de l'en-tête ({nominal}) n'est pas centré sur l'axe ; tailles jugées, positions des bords montrées sans être jugées (leur côté sur l'image n'est pas connu).",
        "en": "{file}: the header's field ({nominal}) is not centred on the axis; sizes are judged, edge positions are shown but not judged (their side on the image is not known).",
    },
    "field.reason_missing.no_nominal": {
        "fr": "taille nominale inconnue (ni en-tête, ni indiquée, ni champ connu de la machine)",
        "en": "nominal size unknown (not in the header, not given, not a known field of the machine)",
    },
    "field.err.nominal_text": {
        "fr": "Champ nominal « {text} » non compris : écrivez deux tailles en mm, par exemple 100x100 ou 150x80.",
        "en": "Nominal field \"{text}\" not understood: write two sizes in mm, e.g. 100x100 or 150x80.",
    },
    "cli.err.nominal_field_only": {
        "fr": "--nominal ne s'applique qu'au test field (MVIC-Champ), pas à « {test} ».",
        "en": "--nominal applies only to the field test (MVIC field), not to \"{test}\".",
    },
    "field.penumbra_def.fff": {"fr": "FFF : 20/50–80/50 de la hauteur au point d'inflexion", "en": "FFF: 20/50–80/50 of the inflection height"},
    "field.penumbra_def.flattened": {"fr": "faisceau égalisé : 20–80 % de la hauteur du profil", "en": "flattened beam: 20–80 % of the profile height"},
    # item-table columns and their values (qc.display)
    "display.col.nominal_source": {"fr": "Origine du nominal", "en": "Nominal from"},
    "display.col.penumbra_definition": {"fr": "Définition de la pénombre", "en": "Penumbra definition"},
    "display.col.beam_source": {"fr": "Type de faisceau selon", "en": "Beam type from"},
    "display.val.nominal_source.header": {"fr": "en-tête DICOM (mâchoires/lames)", "en": "DICOM header (jaws/leaves)"},
    "display.val.nominal_source.user": {"fr": "indiqué pour la séance", "en": "given for the session"},
    "display.val.nominal_source.known": {"fr": "champ connu de la machine", "en": "known field of the machine"},
    "display.val.nominal_source.none": {"fr": "inconnu", "en": "unknown"},
    "display.val.penumbra_definition.fff": {"fr": "FFF : 20/50–80/50 de la hauteur d'inflexion", "en": "FFF: 20/50–80/50 of the inflection height"},
    "display.val.penumbra_definition.flattened": {"fr": "égalisé : 20–80 % de la hauteur du profil", "en": "flattened: 20–80 % of the profile height"},
    "display.val.beam_source.header": {"fr": "en-tête DICOM", "en": "DICOM header"},
    "display.val.beam_source.profile": {"fr": "forme du profil", "en": "profile shape"},
    "field.nominal.label": {"fr": "Champ nominal (mm, X×Y), si l'en-tête ne le donne pas", "en": "Nominal field (mm, X×Y), when the header does not give it"},
    "field.nominal.help": {
        "fr": "Utilisé quand l'en-tête DICOM ne donne pas les mâchoires/lames. Sinon le champ connu de la machine le plus proche (à 10 mm près) ; à défaut l'écart de taille est Non mesuré.",
        "en": "Used when the DICOM header does not give the jaws/leaves. Otherwise the nearest known field of the machine (within 10 mm); failing that the size error is Not measured.",
    },
    "field.warn.no_calibration": {
        "fr": "Pas d'étalonnage de l'axe faisceau en vigueur à cette date : décalage du centre et positions des bords non mesurés (Non mesuré), jamais rapportés au centre de l'imageur. Tailles, angles, pénombres et profils restent jugés. Enregistrez l'étalonnage de l'axe dans Paramètres.",
        "en": "No beam-axis calibration in force on this date: centre offset and edge positions not measured (Not measured), never taken from the imager centre. Sizes, angles, penumbrae and profiles are still judged. Record the beam-axis calibration in Settings.",
    },
    "field.warn.no_baseline": {
        "fr": "Pas de référence enregistrée : constance des profils et grandeurs FFF non mesurées (Non mesuré). Enregistrez une séance de référence.",
        "en": "No stored baseline: profile constancy and FFF quantities not measured (Not measured). Store a baseline session.",
    },
    "field.warn.gantry": {
        "fr": "{file} : angle du bras {angle:g}° (le test est fait à 0°).",
        "en": "{file}: gantry angle {angle:g}° (the test is done at 0°).",
    },
    # side names
    "field.side.x1": {"fr": "X1 (gauche)", "en": "X1 (left)"},
    "field.side.x2": {"fr": "X2 (droite)", "en": "X2 (right)"},
    "field.side.y1": {"fr": "Y1 (haut)", "en": "Y1 (top)"},
    "field.side.y2": {"fr": "Y2 (bas)", "en": "Y2 (bottom)"},
    # overlay / charts
    "field.overlay.title": {"fr": "{item} : {file}", "en": "{item}: {file}"},
    "field.chart.profiles": {"fr": "Profils centraux – {item}", "en": "Central profiles – {item}"},
    "field.chart.position": {"fr": "Position à l'isocentre (mm, axe = 0)", "en": "Position at isocentre (mm, axis = 0)"},
    "field.chart.relative": {"fr": "Signal relatif (centre du champ = 1)", "en": "Relative signal (field centre = 1)"},
    "field.chart.profile": {"fr": "Profil", "en": "Profile"},
    "field.chart.current": {"fr": "séance", "en": "session"},
    "field.chart.baseline": {"fr": "référence", "en": "baseline"},
    "field.chart.size_errors": {"fr": "Écart de taille de champ au nominal", "en": "Field size error from nominal"},
    "field.chart.error_mm": {"fr": "Écart (mm)", "en": "Error (mm)"},
    "field.chart.item": {"fr": "Champ", "en": "Field"},
    "field.chart.axis": {"fr": "Axe", "en": "Axis"},
}
