"""Strings of the MR spatial analysers: slice thickness, geometry, resolution and the ACR set
(`qc.mr.slice_thickness`, `qc.mr.geometry`, `qc.mr.resolution`, `qc.mr.acr`, toolkit `qc.mr.phantom_geometry`)."""

MESSAGES = {
    "mrsp.reason.blank": {
        "fr": "l'image ne contient aucun signal (image vide).",
        "en": "the image holds no signal (blank image).",
    },
    "mrsp.reason.no_phantom": {
        "fr": "aucun fantôme ne se détache du fond de l'image.",
        "en": "no phantom stands out of the image background.",
    },
    "mrsp.err.no_date": {
        "fr": "{file} : pas de date d'acquisition dans l'en-tête DICOM ; indiquez la date de la mesure.",
        "en": "{file}: no acquisition date in the DICOM header; give the date of the measurement.",
    },
    # slice thickness
    "mrst.reason.no_ramps": {
        "fr": "pas de paire de rampes inclinées trouvée ({n} sur 2) : il faut la coupe 1 du fantôme ACR ou l'objet d'épaisseur de coupe MagNET/IPEM.",
        "en": "no pair of inclined ramps found ({n} of 2): slice 1 of the ACR phantom or the MagNET/IPEM slice-width object is needed.",
    },
    "mrst.reason.inconsistent": {
        "fr": "les deux rampes trouvées ne forment pas une paire (longueurs {l1:.1f} et {l2:.1f} mm, inclinaison du fantôme > 10°) : ce n'est pas une coupe de rampes.",
        "en": "the two ramps found are not a pair (lengths {l1:.1f} and {l2:.1f} mm, phantom tilt > 10°): not a ramp slice.",
    },
    "mrst.warn.no_fwhm": {
        "fr": "{file} : la largeur à mi-hauteur d'une rampe n'a pas pu être lue (profil sans retour au fond).",
        "en": "{file}: the FWHM of a ramp could not be read (profile does not return to the background).",
    },
    "mrst.warn.skipped": {"fr": "Image écartée : {reason}", "en": "Image set aside: {reason}"},
    "mrst.err.none": {
        "fr": "Aucune image de l'envoi ne montre de rampes d'épaisseur de coupe. {detail}",
        "en": "No image of the upload shows slice-thickness ramps. {detail}",
    },
    "mrst.overlay": {"fr": "{image} : rampes (profils moyennés dans les cadres)", "en": "{image}: ramps (profiles averaged in the boxes)"},
    "mrst.chart.title": {"fr": "Profils de coupe — {image}", "en": "Slice profiles — {image}"},
    "mrst.chart.z": {"fr": "Position dans l'épaisseur z (mm)", "en": "Position across the slice z (mm)"},
    "mrst.chart.value": {"fr": "Signal normalisé", "en": "Normalised signal"},
    "mrst.chart.ramp": {"fr": "Rampe", "en": "Ramp"},
    # geometry
    "mrge.err.none": {
        "fr": "Aucune image de l'envoi ne permet une mesure géométrique (grille de tiges, fantôme rond ou localisateur sagittal du fantôme ACR). {detail}",
        "en": "No image of the upload allows a geometric measurement (rod grid, round phantom or sagittal localiser of the ACR phantom). {detail}",
    },
    "mrge.warn.skipped": {"fr": "Image écartée : {reason}", "en": "Image set aside: {reason}"},
    "mrge.warn.diameter_missing": {
        "fr": "{file} : un diamètre n'a pas pu être mesuré ({angle}).",
        "en": "{file}: one diameter could not be measured ({angle}).",
    },
    "mrge.reason.not_round": {
        "fr": "ni grille de tiges, ni fantôme rond, ni rectangle sur une coupe sagittale dans l'image : la géométrie se mesure sur la grille MagNET/IPEM, une coupe axiale d'un fantôme cylindrique ou le localisateur sagittal du fantôme ACR.",
        "en": "neither a rod grid, nor a round phantom, nor a rectangle on a sagittal image: geometry is measured on the MagNET/IPEM grid, an axial slice of a cylindrical phantom or the ACR phantom's sagittal localiser.",
    },
    "mrge.reason.si_lines": {
        "fr": "longueur S-I non mesurée : {n} lignes exploitables sur {band} au centre du fantôme (il en faut au moins le quart). Vérifiez que le fantôme est entier dans l'image et que ses extrémités ressortent du fond.",
        "en": "S-I length not measured: {n} usable lines of {band} across the middle of the phantom (at least a quarter are needed). Check that the whole phantom is in the image and its ends stand out of the background.",
    },
    "mrge.overlay.sagittal": {
        "fr": "{image} : longueur S-I (vert, {n} lignes sur {band}, inclinaison {tilt}°) et largeur A-P (bleu), une ligne sur quatre tracée",
        "en": "{image}: S-I length (green, {n} lines of {band}, tilt {tilt}°) and A-P width (blue), one line in four drawn",
    },
    "mrge.overlay.rods": {"fr": "{image} : tiges trouvées et distances mesurées", "en": "{image}: rods found and distances measured"},
    "mrge.overlay.diam": {"fr": "{image} : diamètres mesurés", "en": "{image}: measured diameters"},
    # resolution
    "mrre.reason.no_block": {
        "fr": "pas de bloc à bords droits (carré sans signal) trouvé dans le fantôme.",
        "en": "no straight-edged block (signal-free square) found in the phantom.",
    },
    "mrre.reason.no_edges": {
        "fr": "aucun bord du bloc n'est assez incliné (1° à 30°) ni assez long pour la méthode du bord incliné.",
        "en": "no edge of the block is tilted enough (1° to 30°) nor long enough for the slanted-edge method.",
    },
    "mrre.err.none": {
        "fr": "Aucune image de l'envoi ne permet la mesure de résolution par un bord. {detail}",
        "en": "No image of the upload allows the edge resolution measurement. {detail}",
    },
    "mrre.warn.skipped": {"fr": "Image écartée : {reason}", "en": "Image set aside: {reason}"},
    "mrre.overlay": {"fr": "{image} : bords analysés (bloc incliné)", "en": "{image}: edges analysed (tilted block)"},
    "mrre.chart.title": {"fr": "FTM — {image}", "en": "MTF — {image}"},
    "mrre.chart.f": {"fr": "Fréquence spatiale (pl/mm)", "en": "Spatial frequency (lp/mm)"},
    "mrre.chart.mtf": {"fr": "FTM", "en": "MTF"},
    "mrre.chart.dir": {"fr": "Direction", "en": "Direction"},
    # ACR
    "mracr.err.no_series": {
        "fr": "Aucune série axiale du fantôme ACR (11 coupes, coupe 1 avec la barre d'épaisseur) dans l'envoi. {detail}",
        "en": "No axial ACR phantom series (11 slices, slice 1 with the thickness bar) in the upload. {detail}",
    },
    "mracr.aside.series": {
        "fr": "{series} : écartée, ce n'est pas la série axiale ACR ({reason}).",
        "en": "{series}: set aside, not the axial ACR series ({reason}).",
    },
    "mracr.reason.single": {
        "fr": "une seule image (localisateur ou coupe isolée)",
        "en": "a single image (localiser or isolated slice)",
    },
    "mracr.reason.no_bar": {
        "fr": "aucune coupe d'extrémité ne montre la barre d'épaisseur",
        "en": "no end slice shows the thickness bar",
    },
    "mracr.reason.no_bar_short": {
        "fr": " ; la série n'a que {n} images sur {span} mm (11 coupes sur 100 mm attendues) : la coupe 1 manque probablement. Renvoyez la série complète",
        "en": "; the series has only {n} images over {span} mm (11 slices over 100 mm expected): slice 1 is probably missing. Send the complete series",
    },
    "mracr.warn.snr_squares": {
        "fr": "RSB de la coupe 7 ({method}) : moyenne de {n} carrés sur 5 seulement (un carré hors de l'image ou sans aucun bruit : pixels constants). Vérifiez le centrage du fantôme et l'image.",
        "en": "Slice 7 SNR ({method}): mean of only {n} of the 5 squares (a square off the image or without any noise: constant pixels). Check the phantom's centring and the image.",
    },
    "mracr.warn.missing": {
        "fr": "Série ACR incomplète : coupe(s) {slices} absente(s) ({n} coupes sur 11). Les coupes sont identifiées par leur position le long de la normale (10 mm entre coupes depuis la coupe 1), jamais par leur rang : les mesures des coupes présentes sont faites sur les bonnes coupes, celles d'une coupe absente sont « non mesurées ». Renvoyez la série complète.",
        "en": "Incomplete ACR series: slice(s) {slices} missing ({n} of 11 slices). Slices are identified by their position along the normal (10 mm apart from slice 1), never by their rank: the measures of the slices present are made on the right slices, those of a missing slice are 'not measured'. Send the complete series.",
    },
    "mracr.warn.off_grid": {
        "fr": "Images hors des 11 positions ACR (10 mm entre coupes depuis la coupe 1), non utilisées : {files}.",
        "en": "Images off the 11 ACR positions (10 mm apart from slice 1), not used: {files}.",
    },
    "mracr.err.no_positions": {
        "fr": "La série ACR a {n} images sans position dans l'en-tête (ImagePositionPatient / SliceLocation) : impossible de savoir quelle image est quelle coupe. Envoyez les 11 coupes avec leurs en-têtes d'origine.",
        "en": "The ACR series has {n} images without a position in the header (ImagePositionPatient / SliceLocation): which image is which slice cannot be told. Send the 11 slices with their original headers.",
    },
    "mracr.aside.echo": {
        "fr": "{series} : l'écho TE {te} ms n'est pas analysé ici (seul le premier, TE {te1} ms, l'est ; un autre écho n'est jamais soustrait au premier pour le RSB). Pour le mesurer, envoyez-le seul.",
        "en": "{series}: the TE {te} ms echo is not analysed here (only the first, TE {te1} ms, is; another echo is never subtracted from the first for the SNR). To measure it, send it alone.",
    },
    "mracr.reason.missing_slice": {"fr": "coupe {k} absente de la série", "en": "slice {k} missing from the series"},
    "mracr.reason.no_edge": {
        "fr": "bord du fantôme introuvable sur la coupe {k} (pas de marche nette fluide → fond sur plus de la moitié de la fenêtre angulaire)",
        "en": "phantom edge not found on slice {k} (no clear fluid-to-background step over more than half of the angular window)",
    },
    "mracr.reason.no_bars": {
        "fr": "barres de position introuvables sous la paroi supérieure de la coupe {k}",
        "en": "position bars not found under the top wall of slice {k}",
    },
    "mracr.what.rotation": {
        "fr": "angle de la barre d'épaisseur (positif : sens antihoraire à l'écran) ; ROI des coupes 1, 5 et 11 placées dans le repère du fantôme",
        "en": "angle of the thickness bar (positive: counter-clockwise on screen); ROIs of slices 1, 5 and 11 placed in the phantom's frame",
    },
    "mracr.warn.failed": {"fr": "{measure} : non mesuré ({reason})", "en": "{measure}: not measured ({reason})"},
    "mracr.what.ramps": {"fr": "largeur à mi-hauteur des rampes haute / basse (mm)", "en": "top / bottom ramp FWHM (mm)"},
    "mracr.what.bars": {"fr": "longueur de la barre droite − gauche", "en": "right − left bar length"},
    "mracr.what.snr_used": {"fr": " (valeur retenue)", "en": " (value used)"},
    "mracr.what.snr_difference": {"fr": "différence avec la coupe 7 de l'autre acquisition ({other})",
                                  "en": "difference with slice 7 of the other acquisition ({other})"},
    "mracr.what.snr_factor": {"fr": "Facteur de normalisation du RSB", "en": "SNR normalisation factor"},
    "mracr.what.snr_factor_def": {"fr": "√(BP·Nc/2/1000)/√30 / (0,001·dx·dy·e) / √(NEX·Nl·TR/1000), comme hazen",
                                  "en": "√(BW·Nc/2/1000)/√30 / (0.001·dx·dy·th) / √(NEX·Nr·TR/1000), as hazen"},
    "mracr.overlay.s1": {"fr": "Coupe 1 : diamètres, rampes, barres de position", "en": "Slice 1: diameters, ramps, position bars"},
    "mracr.overlay.s5": {"fr": "Coupe 5 : diamètres", "en": "Slice 5: diameters"},
    "mracr.overlay.s7": {"fr": "Coupe 7 : ROI d'uniformité, de fantôme et de fantômes (ghosting)", "en": "Slice 7: uniformity, signal and ghost ROIs"},
    "mracr.overlay.s11": {"fr": "Coupe 11 : barres de position", "en": "Slice 11: position bars"},
}
