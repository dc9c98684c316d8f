"""Strings of the MR-Linac MRI QA tests (`qc.mr.b0`, `qc.mr.b0_gantry`, `qc.mr.b1`, `qc.mr.geometry_3d`,
`qc.mr.linac_series`) and of their page."""

MESSAGES = {
    # test names inside sentences
    "mrl.test.b0": {"fr": "homogénéité B0", "en": "B0 homogeneity"},
    "mrl.test.gantry": {"fr": "B0 selon l'angle du bras", "en": "B0 versus gantry angle"},
    "mrl.test.b1": {"fr": "B1 (double angle)", "en": "B1 (double angle)"},
    "mrl.test.geometry": {"fr": "géométrie 3D", "en": "3-D geometry"},
    "mrl.what.b0": {
        "fr": "une série de cartes B0 Philips (type d'image « B0 MAP », valeurs en Hz)",
        "en": "a Philips B0 map series (image type \"B0 MAP\", values in Hz)",
    },
    "mrl.what.gantry": {
        "fr": "la série FFE dynamique de phase (type d'image « PHASE MAP », en mrad) acquise aux 13 angles du bras",
        "en": "the dynamic FFE phase series (image type \"PHASE MAP\", in mrad) acquired at the 13 gantry angles",
    },
    "mrl.what.b1": {
        "fr": "deux séries en écho de spin de même géométrie, angles de bascule 60° et 120°",
        "en": "two spin-echo series of the same geometry, flip angles 60° and 120°",
    },
    "mrl.what.geometry": {
        "fr": "le volume 3D (au moins 100 coupes parallèles) du fantôme à marqueurs grand champ",
        "en": "the 3-D volume (at least 100 parallel slices) of the large-FOV marker phantom",
    },
    "mrl.ori.transverse": {"fr": "transverse", "en": "transverse"},
    "mrl.ori.coronal": {"fr": "coronal", "en": "coronal"},
    "mrl.ori.sagittal": {"fr": "sagittal", "en": "sagittal"},
    # refusals
    "mrl.err.no_mr": {
        "fr": "Aucune image IRM parmi les {n} fichiers chargés. Exportez les séries du contrôle IRM MR-Linac depuis la console (DICOM).",
        "en": "No MR image among the {n} uploaded files. Export the MR-Linac MRI QA series from the console (DICOM).",
    },
    "mrl.err.no_series": {
        "fr": "Aucune série pour le test « {test} » : il faut {what}.",
        "en": "No series for the \"{test}\" test: it needs {what}.",
    },
    "mrl.err.no_date": {
        "fr": "{file} : l'en-tête ne donne pas la date d'acquisition ; indiquez-la pour enregistrer ce contrôle.",
        "en": "{file}: the header gives no acquisition date; enter it to record this check.",
    },
    "mrl.err.angles_count": {
        "fr": "{n} angles du bras donnés dans les réglages, mais la série a {expected} positions temporelles.",
        "en": "{n} gantry angles given in the settings, but the series has {expected} temporal positions.",
    },
    "mrl.err.one_angle": {
        "fr": "La série {series} n'a qu'une position temporelle : il faut les images des 13 angles du bras.",
        "en": "Series {series} has a single temporal position: the images of the 13 gantry angles are needed.",
    },
    "mrl.err.volume_mixed": {
        "fr": "{file} : cette coupe n'a pas la même matrice, orientation ou taille de pixel que les autres coupes du volume.",
        "en": "{file}: this slice has not the same matrix, orientation or pixel size as the other slices of the volume.",
    },
    "mrl.err.volume_duplicate": {
        "fr": "{file} : deux coupes du volume sont à la même position ({pos:.1f} mm). Chargez une seule acquisition.",
        "en": "{file}: two slices of the volume are at the same position ({pos:.1f} mm). Upload a single acquisition.",
    },
    "mrl.err.no_central_markers": {
        "fr": "Trop peu de marqueurs trouvés près de l'isocentre dans le plan central ({n} marqueurs en tout) : la mise en place du fantôme ne peut pas être ajustée. Vérifiez le fantôme (plan central à l'isocentre, à ±5 mm et ±4° près).",
        "en": "Too few markers found near the isocentre in the central plane ({n} markers in all): the phantom set-up cannot be fitted. Check the phantom (central plane at the isocentre, within ±5 mm and ±4°).",
    },
    # files or series left out
    "mrl.skip.series_unknown": {
        "fr": "Série {series} ({n} images) : ni carte B0, ni phase dynamique, ni paire 60°/120°, ni volume 3D ; ignorée.",
        "en": "Series {series} ({n} images): neither a B0 map, a dynamic phase series, a 60°/120° pair nor a 3-D volume; left out.",
    },
    "mrl.skip.series_other": {
        "fr": "Série {series} : n'appartient pas au test « {test} », ignorée ici.",
        "en": "Series {series}: not part of the \"{test}\" test, left out here.",
    },
    # warnings
    "mrl.warn.no_b0_images": {"fr": "Série {series} : aucune image de carte B0.", "en": "Series {series}: no B0 map image."},
    "mrl.warn.no_magnitude": {
        "fr": "Série {series} : pas d'image de module ; le fantôme est délimité à partir de la carte elle-même (zones régulières).",
        "en": "Series {series}: no magnitude image; the phantom is outlined from the map itself (smooth areas).",
    },
    "mrl.warn.several_gantry": {
        "fr": "{n} séries de phase dynamiques chargées ; seule {used} est analysée.",
        "en": "{n} dynamic phase series uploaded; only {used} is analysed.",
    },
    "mrl.warn.no_te": {
        "fr": "Temps d'écho absent de l'en-tête : {te} ms utilisé (protocole de la console).",
        "en": "Echo time missing from the header: {te} ms used (console protocol).",
    },
    "mrl.warn.no_gantry0": {
        "fr": "Aucune position à 0° : la référence est l'angle le plus proche ({angle:+g}°).",
        "en": "No position at 0°: the reference is the nearest angle ({angle:+g}°).",
    },
    "mrl.warn.missing_phase": {
        "fr": "Angle {angle} : coupe à {pos} mm absente, non comptée.",
        "en": "Angle {angle}: slice at {pos} mm missing, not counted.",
    },
    "mrl.warn.b1_unpaired": {
        "fr": "{file} : image à {flip:g}° sans image à l'autre angle à la même position ({pos:.1f} mm), non utilisée.",
        "en": "{file}: {flip:g}° image without an image at the other angle at the same position ({pos:.1f} mm), not used.",
    },
    "mrl.warn.several_volumes": {
        "fr": "{n} volumes 3D chargés ; seul {used} est analysé.",
        "en": "{n} 3-D volumes uploaded; only {used} is analysed.",
    },
    "mrl.warn.setup_bound": {
        "fr": "La mise en place ajustée atteint sa limite (±{mm:g} mm, ±{deg:g}°) : repositionnez le fantôme, les écarts sont douteux.",
        "en": "The fitted set-up reaches its limit (±{mm:g} mm, ±{deg:g}°): reposition the phantom, the deviations are doubtful.",
    },
    "mrl.warn.markers_missing": {
        "fr": "{n} marqueurs attendus non trouvés (position nominale gauche-droite, antéro-postérieure, tête-pieds en mm) : {list}.",
        "en": "{n} expected markers not found (nominal left-right, anterior-posterior, head-foot position in mm): {list}.",
    },
    "mrl.warn.markers_spurious": {
        "fr": "{n} taches de la taille d'un marqueur hors de la grille, non comptées (position en mm) : {list}.",
        "en": "{n} marker-sized blobs off the grid, not counted (position in mm): {list}.",
    },
    "mrl.warn.markers_edge": {
        "fr": "{n} marqueurs au bord du volume imagé (coupés par le champ de vue), ni attendus ni comptés.",
        "en": "{n} markers at the edge of the imaged volume (cut by the field of view), neither expected nor counted.",
    },
    "mrl.warn.blobs_rejected": {
        "fr": "{n} taches claires écartées car trop petites ({small}) ou trop grandes ({large}) pour un marqueur.",
        "en": "{n} bright blobs left out as too small ({small}) or too large ({large}) for a marker.",
    },
    # tables
    "mrl.col.orientation": {"fr": "Orientation", "en": "Orientation"},
    "mrl.col.series": {"fr": "Série", "en": "Series"},
    "mrl.col.pixels": {"fr": "Pixels", "en": "Pixels"},
    "mrl.col.mean_ppm": {"fr": "Moyenne (ppm)", "en": "Mean (ppm)"},
    "mrl.col.pk_pk_ppm": {"fr": "Crête à crête (ppm)", "en": "Peak-to-peak (ppm)"},
    "mrl.col.sd_ppm": {"fr": "Écart-type (ppm)", "en": "SD (ppm)"},
    "mrl.col.p95_ppm": {"fr": "95e centile |ΔB0 − moyenne| (ppm)", "en": "95th percentile |ΔB0 − mean| (ppm)"},
    "mrl.warn.gantry_repeat": {
        "fr": "Position du bras {angle}° mesurée deux fois (au début de la rotation à {first}° et à la fin à {repeat}°, "
              "la même position) : une seule ligne, avec la moins favorable des deux mesures ; écart de crête à crête entre "
              "les deux : {diff} ppm.",
        "en": "Gantry position {angle}° measured twice (at the start of the sweep at {first}° and at its end at {repeat}°, "
              "the same position): one row, with the less favourable of the two measurements; peak-to-peak difference "
              "between them: {diff} ppm.",
    },
    "mrl.col.angle": {"fr": "Angle du bras (°)", "en": "Gantry angle (°)"},
    "mrl.col.temporal": {"fr": "Position temporelle", "en": "Temporal position"},
    "mrl.col.b1_mean": {"fr": "B1 moyen", "en": "Mean B1"},
    "mrl.col.b1_p5": {"fr": "B1 5e centile", "en": "B1 5th percentile"},
    "mrl.col.b1_p95": {"fr": "B1 95e centile", "en": "B1 95th percentile"},
    "mrl.col.b1_min": {"fr": "B1 minimum", "en": "B1 minimum"},
    "mrl.col.plane": {"fr": "Plan tête-pieds (mm)", "en": "Head-foot plane (mm)"},
    "mrl.col.node_lr": {"fr": "Nominal gauche-droite (mm)", "en": "Nominal left-right (mm)"},
    "mrl.col.node_ap": {"fr": "Nominal antéro-postérieur (mm)", "en": "Nominal anterior-posterior (mm)"},
    "mrl.col.distance": {"fr": "Distance à l'isocentre (mm)", "en": "Distance from isocentre (mm)"},
    "mrl.col.dev_lr": {"fr": "Écart gauche-droite (mm)", "en": "Left-right deviation (mm)"},
    "mrl.col.dev_ap": {"fr": "Écart antéro-postérieur (mm)", "en": "Anterior-posterior deviation (mm)"},
    "mrl.col.dev_hf": {"fr": "Écart tête-pieds (mm)", "en": "Head-foot deviation (mm)"},
    "mrl.col.dev": {"fr": "|Écart| (mm)", "en": "|Deviation| (mm)"},
    # pictures and charts
    "mrl.b0.overlay": {"fr": "{orientation}, coupe à {pos:+.0f} mm : ΔB0 − moyenne (±1 ppm), cercle = DSV 350 mm", "en": "{orientation}, slice at {pos:+.0f} mm: ΔB0 − mean (±1 ppm), circle = DSV 350 mm"},
    "mrl.b0.overlay_title": {"fr": "Carte B0 {orientation} ({series})", "en": "B0 map {orientation} ({series})"},
    "mrl.gantry.overlay": {"fr": "bras {angle}°, coupe {pos:+.0f} mm (±0,5 ppm)", "en": "gantry {angle}°, slice {pos:+.0f} mm (±0.5 ppm)"},
    "mrl.gantry.overlay_title": {"fr": "ΔB0 par rapport au bras à 0°, angle le plus défavorable ({angle}°)", "en": "ΔB0 from gantry 0°, worst angle ({angle}°)"},
    "mrl.gantry.chart_title": {"fr": "ΔB0 selon l'angle du bras (DSV 350 mm)", "en": "ΔB0 versus gantry angle (DSV 350 mm)"},
    "mrl.chart.pk_pk": {"fr": "crête à crête", "en": "peak-to-peak"},
    "mrl.chart.mean": {"fr": "moyenne", "en": "mean"},
    "mrl.chart.angle": {"fr": "Angle du bras (°)", "en": "Gantry angle (°)"},
    "mrl.b1.overlay_title": {"fr": "B1 relatif (0,8 → 1,2), cercle = DSV 350 mm", "en": "Relative B1 (0.8 → 1.2), circle = DSV 350 mm"},
    "mrl.geo.overlay_title": {
        "fr": "Écarts des marqueurs par plan (vus des pieds ; flèches ×20 dans le plan, couleur = |écart| de 0 à 2 mm)",
        "en": "Marker deviations per plane (seen from the feet; in-plane arrows ×20, colour = |deviation| from 0 to 2 mm)",
    },
    "mrl.geo.side_right": {"fr": "D", "en": "R"},
    "mrl.geo.side_left": {"fr": "G", "en": "L"},
    "mrl.geo.side_ant": {"fr": "A", "en": "A"},
    "mrl.geo.side_post": {"fr": "P", "en": "P"},
    "mrl.geo.plane_caption": {"fr": "plan {z} mm : {n} marqueurs, max {max:.2f} mm", "en": "plane {z} mm: {n} markers, max {max:.2f} mm"},
    "mrl.geo.chart_title": {"fr": "|Écart| des marqueurs selon la distance à l'isocentre", "en": "Marker |deviation| versus distance from the isocentre"},
    "mrl.chart.distance": {"fr": "Distance à l'isocentre (mm)", "en": "Distance from the isocentre (mm)"},
    "mrl.chart.deviation": {"fr": "|Écart| (mm)", "en": "|Deviation| (mm)"},
    "mrl.chart.plane": {"fr": "Plan tête-pieds", "en": "Head-foot plane"},
    "mrl.geo.progress_read": {"fr": "Lecture du volume : coupe {k} / {n}", "en": "Reading the volume: slice {k} / {n}"},
    "mrl.geo.progress_detect": {"fr": "Recherche des marqueurs : bloc {k} / {n}", "en": "Finding the markers: slab {k} / {n}"},
    "mrl.geo.progress_draw": {"fr": "Ajustement et cartes des écarts", "en": "Fitting and deviation maps"},
    "mrl.geo.progress_done": {"fr": "Analyse terminée", "en": "Analysis done"},
    # the study page
    "mrl.page.title": {"fr": "IRM MR-Linac", "en": "MR-Linac MRI"},
    "mrl.page.caption": {
        "fr": "Chargez l'étude exportée de la console (fichiers DICOM ou .zip) : chaque série est reconnue par son en-tête et envoyée à son test (homogénéité B0, B0 selon l'angle du bras, B1, géométrie 3D). Chaque test est enregistré séparément.",
        "en": "Upload the study exported from the console (DICOM files or .zip): each series is recognised from its header and sent to its test (B0 homogeneity, B0 versus gantry angle, B1, 3-D geometry). Each test is saved separately.",
    },
    "mrl.page.routed": {"fr": "Séries reconnues", "en": "Series recognised"},
    "mrl.page.col_series": {"fr": "Série", "en": "Series"},
    "mrl.page.col_images": {"fr": "Images", "en": "Images"},
    "mrl.page.col_test": {"fr": "Test", "en": "Test"},
    "mrl.page.left_out": {"fr": "Non utilisé", "en": "Not used"},
    "mrl.page.nothing": {
        "fr": "Aucune série de contrôle IRM MR-Linac reconnue dans ces fichiers.",
        "en": "No MR-Linac MRI QA series recognised in these files.",
    },
    "mrl.page.analysing": {"fr": "Analyse : {test}…", "en": "Analysing: {test}…"},
    "mrl.page.per_test": {"fr": "Pages des tests", "en": "Test pages"},
    # analysis settings (physicists)
    "mrl.opt.title": {"fr": "Réglages de l'analyse", "en": "Analysis settings"},
    "mrl.opt.isocentre": {
        "fr": "Isocentre en coordonnées patient : gauche-droite ; antéro-postérieur ; tête-pieds (mm)",
        "en": "Isocentre in patient coordinates: left-right; anterior-posterior; head-foot (mm)",
    },
    "mrl.opt.angles": {"fr": "Angles du bras par position temporelle (°), séparés par « ; »", "en": "Gantry angle of each temporal position (°), separated by \";\""},
    "mrl.opt.angles_help": {
        "fr": "Vide : d'après la description de la série (ex. « 30_deg_fwd (start at 181) »), sinon −180 à +180° par pas de 30°.",
        "en": "Empty: from the series description (e.g. \"30_deg_fwd (start at 181)\"), else −180 to +180° in 30° steps.",
    },
    "mrl.opt.semi": {"fr": "Autre fantôme : demi-axes de la grille de marqueurs, gauche-droite ; antéro-postérieur (mm)", "en": "Another phantom: semi-axes of the marker grid, left-right; anterior-posterior (mm)"},
    "mrl.opt.semi_help": {
        "fr": "Laisser vide pour le fantôme de géométrie Unity (sa liste de marqueurs publiée, côté table plat). Deux nombres : les nœuds de la grille dans cette ellipse.",
        "en": "Leave empty for the Unity geometry phantom (its published marker list, flat table side). Two numbers: the grid nodes inside this ellipse.",
    },
    "mrl.opt.planes": {"fr": "Plans de marqueurs, position tête-pieds (mm)", "en": "Marker planes, head-foot position (mm)"},
    "mrl.opt.pitch": {"fr": "Pas de la grille (mm)", "en": "Grid pitch (mm)"},
    "mrl.opt.save": {"fr": "Enregistrer les réglages", "en": "Save the settings"},
    "mrl.opt.saved": {"fr": "Réglages enregistrés : ils s'appliquent aux analyses suivantes.", "en": "Settings saved: they apply to the next analyses."},
    "mrl.opt.err_iso": {"fr": "L'isocentre demande trois nombres.", "en": "The isocentre needs three numbers."},
    "mrl.opt.err_positive": {"fr": "Le pas doit être un nombre positif.", "en": "The pitch must be a positive number."},
    "mrl.opt.err_semi": {"fr": "Les demi-axes demandent deux nombres positifs.", "en": "The semi-axes need two positive numbers."},
    "mrl.opt.err_angles": {"fr": "Donnez un angle par position temporelle (ou laissez vide).", "en": "Give one angle per temporal position (or leave empty)."},
    "mrl.opt.err_planes": {"fr": "Donnez au moins un plan.", "en": "Give at least one plane."},
    "mrl.opt.err_number": {"fr": "Un des champs n'est pas un nombre.", "en": "One of the fields is not a number."},
}
