"""Messages of the MR image-quality analysers (qc.mr.snr, qc.mr.uniformity, qc.mr.ghosting, qc.mr.image_rois)."""

MESSAGES = {
    "mrq.err.no_phantom": {
        "fr": "{file} : aucun fantôme trouvé dans l'image (pas de région de signal nette). Vérifiez que l'image montre le fantôme.",
        "en": "{file}: no phantom found in the image (no clear signal region). Check that the image shows the phantom.",
    },
    "mrq.err.no_date": {
        "fr": "{file} : l'en-tête ne donne pas la date d'acquisition. Indiquez la date de l'acquisition puis relancez l'analyse.",
        "en": "{file}: the header gives no acquisition date. Enter the acquisition date and run the analysis again.",
    },
    "mrq.warn.not_uniform": {
        "fr": "{file} : la section du fantôme n'est pas uniforme ({pct} % de structures : grille, tiges, rampes…) ; image non analysée pour cette mesure.",
        "en": "{file}: the phantom section is not uniform ({pct} % structures: grid, rods, ramps…); image not analysed for this measure.",
    },
    "mrq.err.no_uniform": {
        "fr": "Aucune des {n} images ne montre une section uniforme du fantôme (grilles, tiges ou rampes dans toutes). Envoyez l'image d'un fantôme uniforme ou la coupe uniforme de la série. {detail}",
        "en": "None of the {n} images shows a uniform section of the phantom (grids, rods or ramps in all). Upload an image of a uniform phantom or the uniform slice of the series. {detail}",
    },
    "mrq.err.no_uniform_one": {
        "fr": "L'image envoyée ne montre pas de section uniforme du fantôme. Envoyez l'image d'un fantôme uniforme ou la coupe uniforme de la série. {detail}",
        "en": "The uploaded image does not show a uniform section of the phantom. Upload an image of a uniform phantom or the uniform slice of the series. {detail}",
    },
    "mrq.warn.acr_sagittal": {
        "fr": "{file} : localisateur sagittal du fantôme ACR, écarté : sa longueur supérieur-inférieur se mesure avec « IRM : géométrie ».",
        "en": "{file}: sagittal localiser of the ACR phantom, set aside: its superior-inferior length is measured by “MR: geometry”.",
    },
    "mrq.warn.too_many": {
        "fr": "{n} images reçues : seules les {max} premières sont analysées ; non analysées : {files}.",
        "en": "{n} images received: only the first {max} are analysed; not analysed: {files}.",
    },
    "mrq.page.title": {"fr": "Qualité image IRM", "en": "MR image quality"},
    "mrq.page.caption": {
        "fr": "Déposez une série (fichiers ou dossier en .zip) : chaque mesure qui s'applique est faite, avec ses ROI dessinées, jugée et enregistrée comme son propre test ({measures}).",
        "en": "Upload a series (files or a zipped folder): every measure that applies is made, with its ROIs drawn, judged and saved as its own test ({measures}).",
    },
    "mrq.superseded": {
        "fr": "Série du fantôme ACR : cette mesure est faite par « {test} », avec la méthode propre à ce fantôme (voir son onglet).",
        "en": "ACR phantom series: this measure is made by “{test}”, with the method made for that phantom (see its tab).",
    },
    "mrq.nav.image_quality": {"fr": "Qualité image IRM", "en": "MR image quality"},
    "mrq.label.series": {"fr": "série {n}", "en": "series {n}"},
    "snr.err.method": {
        "fr": "Méthode de bruit « {method} » inconnue. Méthodes possibles : {known}.",
        "en": "Unknown noise method “{method}”. Known methods: {known}.",
    },
    "snr.err.coil": {
        "fr": "Antenne « {coil} » inconnue pour le lissage du bruit. Valeurs possibles : {known}.",
        "en": "Unknown coil “{coil}” for the noise smoothing. Known values: {known}.",
    },
    "snr.method.smoothed": {"fr": "image seule, résidu lissé (McCann 2013)", "en": "single image, smoothed residual (McCann 2013)"},
    "snr.method.background": {"fr": "image seule, bruit du fond (NEMA MS 1)", "en": "single image, background noise (NEMA MS 1)"},
    "snr.method.difference": {"fr": "différence de deux images (NEMA MS 1)", "en": "difference of two images (NEMA MS 1)"},
    "snr.warn.no_background": {
        "fr": "{file} : aucune région du fond n'est libre du fantôme et de ses fantômes de phase (fantôme trop grand pour le champ de vue) ; bruit du fond non mesuré.",
        "en": "{file}: no background region is clear of the phantom and its phase ghosts (phantom too large for the field of view); background noise not measured.",
    },
    "snr.warn.zero_background": {
        "fr": "{file} : le fond contient des pixels à zéro (fond mis à zéro par la reconstruction) ; le bruit du fond n'est pas utilisable, choisissez la méthode du résidu lissé.",
        "en": "{file}: the background holds zero pixels (zeroed by the reconstruction); background noise is unusable, use the smoothed-residual method.",
    },
    "snr.warn.no_pair": {
        "fr": "Plusieurs images mais aucune paire d'acquisitions répétées (même coupe, mêmes TE/TR) : pas de SNR par différence.",
        "en": "Several images but no pair of repeated acquisitions (same slice, same TE/TR): no difference SNR.",
    },
    "snr.overlay.single": {"fr": "{image} — ROI du SNR ({method})", "en": "{image} — SNR ROIs ({method})"},
    "snr.overlay.difference": {"fr": "Différence {a} − {b} — ROI du SNR", "en": "Difference {a} − {b} — SNR ROIs"},
}
MESSAGES.update({
    "uni.overlay": {"fr": "{image} — régions de l'uniformité", "en": "{image} — uniformity regions"},
})
MESSAGES.update({
    "ghost.overlay": {"fr": "{image} — ROI du ghosting (phase {direction})", "en": "{image} — ghosting ROIs (phase {direction})"},
    "ghost.pe.ROW": {"fr": "horizontale (lignes)", "en": "horizontal (rows)"},
    "ghost.pe.COL": {"fr": "verticale (colonnes)", "en": "vertical (columns)"},
    "ghost.warn.no_pe": {
        "fr": "{file} : la direction du codage de phase manque dans l'en-tête ; les deux directions ont été mesurées et la plus défavorable gardée ({direction}).",
        "en": "{file}: the phase-encoding direction is missing from the header; both directions were measured and the worse kept ({direction}).",
    },
    "ghost.warn.no_room": {
        "fr": "{file} : pas assez de fond de part et d'autre du fantôme pour mesurer le ghosting ; centrez le fantôme ou agrandissez le champ de vue.",
        "en": "{file}: not enough background beside the phantom to measure ghosting; centre the phantom or enlarge the field of view.",
    },
})
