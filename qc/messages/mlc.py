"""Strings of the MLC analysers (`qc.mv.mlc`, `qc.mv.leaves`, `qc.mv.slits`): refusals, warnings, chart labels."""

MESSAGES = {
    # reasons given inside err.wrong_image
    "mlc.reason.blank": {
        "fr": "l'image ne contient aucun signal (image vide ou non irradiée). Chargez les images irradiées du test MLC.",
        "en": "the image holds no signal (blank or not irradiated). Upload the irradiated images of the MLC test.",
    },
    "mlc.reason.no_bands": {
        "fr": "aucune bande irradiée définie par les lames (fente, ouverture ou picket) n'a été trouvée. Ce test attend des ouvertures MLC étroites (fentes ou bandes de 20 mm).",
        "en": "no leaf-defined irradiated band (slit, gap or picket) was found. This test expects narrow MLC openings (slits or 20 mm gaps).",
    },
    "mlc.reason.open_field": {
        "fr": "l'ouverture trouvée fait {width:.0f} mm de large (plus de {limit:.0f} mm) : c'est un champ ouvert, pas un motif de lames. Chargez-la sur la page MVIC-Champ.",
        "en": "the opening found is {width:.0f} mm wide (over {limit:.0f} mm): an open field, not a leaf pattern. Upload it on the MVIC field page.",
    },
    "mlc.reason.too_few_pairs": {
        "fr": "seules {n} paires de lames montrent une ouverture mesurable (au moins {min} attendues).",
        "en": "only {n} leaf pairs show a measurable opening (at least {min} expected).",
    },
    "mlc.reason.not_slits": {
        "fr": "les ouvertures font {width:.0f} mm de large (plus de {limit:.0f} mm) : ce sont des bandes du test « Position des lames », pas des fentes. Chargez-la sur cette page.",
        "en": "the openings are {width:.0f} mm wide (over {limit:.0f} mm): bands of the leaf-position test, not slits. Upload it on that page.",
    },
    # warnings
    "mlc.warn.pitch_fallback": {
        "fr": "{file} : motif inter-lames non détecté ; paires placées à partir de l'axe avec le pas nominal de {pitch:.3f} mm (vérifier l'axe).",
        "en": "{file}: inter-leaf pattern not detected; pairs placed from the beam axis at the nominal pitch of {pitch:.3f} mm (check the axis).",
    },
    "mlc.warn.pitch_mismatch": {
        "fr": "{file} : pas des lames détecté {pitch:.2f} mm, différent du pas attendu {expected:.3f} mm (autre MLC ?) ; paires numérotées dans l'ordre de l'image.",
        "en": "{file}: detected leaf pitch {pitch:.2f} mm differs from the expected {expected:.3f} mm (another MLC?); pairs numbered in image order.",
    },
    "mlc.warn.boundary_offset": {
        "fr": "{file} : la jonction de lames la plus proche de l'axe est à {offset:.2f} mm de l'axe (attendu ≈ 0) : vérifier l'étalonnage de l'axe.",
        "en": "{file}: the leaf junction nearest the axis is {offset:.2f} mm from the axis (≈ 0 expected): check the axis calibration.",
    },
    "mlc.warn.orientation": {
        "fr": "{file} : lames se déplaçant selon les colonnes (u) et non les lignes (v) comme sur l'Unity : positions données selon u.",
        "en": "{file}: leaves travel along u (columns), not along v (rows) as on the Unity: positions are given along u.",
    },
    "mlc.warn.no_nominal": {
        "fr": "{file} : aucune ouverture nominale ne correspond (bords mesurés {lo:.1f} / {hi:.1f} mm) ; erreurs absolues non calculées pour cette image.",
        "en": "{file}: no nominal opening matches (measured edges {lo:.1f} / {hi:.1f} mm); absolute errors not computed for this image.",
    },
    "mlc.warn.nominal_reused": {
        "fr": "La position nominale {nominal} est attribuée à plusieurs images ({files}).",
        "en": "The nominal position {nominal} is matched to several images ({files}).",
    },
    "mlc.warn.nominal_count": {
        "fr": "{n_images} images pour {n_nominal} ouvertures nominales configurées : appariement par position détectée.",
        "en": "{n_images} images for {n_nominal} configured nominal openings: matched by detected position.",
    },
    "mlc.warn.pickets_combined": {
        "fr": "{files} : {n} images d'une même barrière (mêmes angles et géométrie, parties complémentaires) combinées en une seule image (chacune normalisée entre ses niveaux bas et haut, puis superposées, comme pylinac) ; {n_pickets} bandes analysées comme une seule barrière.",
        "en": "{files}: {n} images of one picket fence (same angles and geometry, complementary parts) combined into one image (each normalised between its low and high levels, then superimposed, as pylinac); {n_pickets} bands analysed as one picket fence.",
    },
    "mlc.warn.picket_mode": {
        "fr": "{file} : {n} bandes étroites (picket fence / fentes) : erreurs calculées par rapport à la droite ajustée de chaque bande (erreurs relatives, comme pylinac).",
        "en": "{file}: {n} narrow bands (picket fence / slits): errors are to each band's fitted line (relative errors, as pylinac).",
    },
    "mlc.warn.gantry": {
        "fr": "{file} : angle du bras {angle:g}° (le test est fait à 0°).",
        "en": "{file}: gantry angle {angle:g}° (the test is done at 0°).",
    },
    "mlc.warn.dropped_pairs": {
        "fr": "{file} : {n} paire(s) sans ouverture complète dans toutes les bandes écartée(s) ({pairs}).",
        "en": "{file}: {n} pair(s) without a complete opening in every band dropped ({pairs}).",
    },
    "slits.warn.no_baseline": {
        "fr": "Pas de référence enregistrée : centres comparés au plan nominal, largeurs comparées à la largeur médiane de chaque fente de cette séance. Enregistrez une séance de référence.",
        "en": "No stored baseline: centres compared with the nominal plan, widths with each slit's median width in this session. Store a baseline session.",
    },
    "slits.warn.unmatched": {
        "fr": "{file} : fente à {centre:.1f} mm sans fente nominale ni de référence à moins de {limit:g} mm : position non mesurable (Non mesuré).",
        "en": "{file}: slit at {centre:.1f} mm has no nominal or baseline slit within {limit:g} mm: its position cannot be measured (Not measured).",
    },
    "slits.warn.no_calibration": {
        "fr": "Pas d'étalonnage de l'axe faisceau en vigueur à cette date : centres des fentes non mesurés (Non mesuré), jamais rapportés au centre de l'imageur ; largeurs et écarts à la droite ajustée restent jugés. Enregistrez l'étalonnage de l'axe dans Paramètres.",
        "en": "No beam-axis calibration in force on this date: slit centres not measured (Not measured), never taken from the imager centre; widths and errors to the fitted line are still judged. Record the beam-axis calibration in Settings.",
    },
    "slits.warn.count": {
        "fr": "{n} fentes trouvées, {expected} attendues.",
        "en": "{n} slits found, {expected} expected.",
    },
    "leaves.warn.axis_from_plan": {
        "fr": "Pas d'étalonnage de l'axe faisceau en vigueur à cette date : les positions absolues des lames sont jugées par rapport à l'axe mesuré sur le plan de cette séance (colonne {u}, ligne {v} px ; moyenne des centres des ouvertures et jonction 40|41), jamais par rapport au centre de l'imageur. Le décalage de l'axe ne peut pas être mesuré (Non mesuré) : enregistrez l'étalonnage de l'axe dans Paramètres.",
        "en": "No beam-axis calibration in force on this date: absolute leaf positions are judged against the axis measured from this session's plan (column {u}, row {v} px; mean of the gap centres and the 40|41 junction), never against the imager centre. The axis shift cannot be measured (Not measured): record the beam-axis calibration in Settings.",
    },
    "leaves.warn.no_axis": {
        "fr": "Pas d'étalonnage de l'axe faisceau en vigueur et aucune image appariée au plan : aucune position absolue ne peut être jugée (Non mesuré).",
        "en": "No beam-axis calibration in force and no image matched to the plan: no absolute position can be judged (Not measured).",
    },
    "mlc.warn.pairs_not_measured": {
        "fr": "{file} : {n} paire(s) de lames attendue(s) non mesurée(s) ({pairs}) : comptée(s) comme non conforme(s).",
        "en": "{file}: {n} expected leaf pair(s) not measured ({pairs}): counted as failing.",
    },
    "mlc.chart.not_measured": {"fr": "Non mesurée", "en": "Not measured"},
    "mlc.chart.status": {"fr": "État", "en": "Status"},
    "slits.warn.pairs_not_measured": {
        "fr": "{file}, {slit} : {n} paire(s) de lames attendue(s) non mesurée(s) ({pairs}) : comptée(s) comme non conforme(s).",
        "en": "{file}, {slit}: {n} expected leaf pair(s) not measured ({pairs}): counted as failing.",
    },
    # overlay / charts / tables
    "mlc.overlay.title": {"fr": "{label} : {file}", "en": "{label}: {file}"},
    "mlc.chart.heatmap": {"fr": "Écart par lame (mm)", "en": "Error per leaf (mm)"},
    "mlc.chart.relative": {"fr": "Écart à la droite ajustée par lame (mm)", "en": "Error to the fitted line per leaf (mm)"},
    "mlc.chart.pair": {"fr": "Paire de lames", "en": "Leaf pair"},
    "mlc.chart.position": {"fr": "Position / banc", "en": "Position / bank"},
    "mlc.chart.error_mm": {"fr": "Écart (mm)", "en": "Error (mm)"},
    "mlc.chart.bank_errors": {"fr": "Écarts par paire et par banc", "en": "Errors per pair and bank"},
    "mlc.chart.bank": {"fr": "Banc", "en": "Bank"},
    "leaves.ui.pick_leaf": {"fr": "Autre lame hors tolérance à afficher", "en": "Other leaf out of tolerance to show"},
    "leaves.chart.failing_profiles": {"fr": "Profil le long des lames hors tolérance", "en": "Profile along the leaves out of tolerance"},
    "leaves.chart.along_mm": {"fr": "Position le long du déplacement des lames (mm, depuis l'axe)", "en": "Position along the leaf travel (mm, from the axis)"},
    "leaves.chart.relative_signal": {"fr": "Signal / plateau de l'ouverture", "en": "Signal / gap plateau"},
    "leaves.chart.leaf": {"fr": "Lame", "en": "Leaf"},
    "leaves.chart.leaf_label": {"fr": "image {image} · paire {pair} · banc {bank}", "en": "image {image} · pair {pair} · bank {bank}"},
    "leaves.chart.marker": {"fr": "Repère", "en": "Marker"},
    "leaves.chart.measured_tip": {"fr": "extrémité mesurée", "en": "measured end"},
    "leaves.chart.nominal_tip": {"fr": "extrémité prévue", "en": "planned end"},
    "slits.chart.centres": {"fr": "Écart du centre des fentes par paire (mm)", "en": "Slit centre deviation per pair (mm)"},
    "slits.chart.widths": {"fr": "Largeur des fentes (FWHM) par paire (mm)", "en": "Slit width (FWHM) per pair (mm)"},
    "slits.chart.width_mm": {"fr": "Largeur (mm)", "en": "Width (mm)"},
    "slits.chart.dev_mm": {"fr": "Écart (mm)", "en": "Deviation (mm)"},
    "slits.chart.slit": {"fr": "Fente", "en": "Slit"},
}
