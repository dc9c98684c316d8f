"""Strings of the logged-test forms."""

MESSAGES = {
    "logged.err.required": {
        "fr": "« {field} » est obligatoire : saisissez une valeur.",
        "en": "\"{field}\" is required: enter a value.",
    },
    "logged.err.not_a_number": {
        "fr": "« {field} » : « {value} » n'est pas un nombre. Saisissez par exemple 12,5 ou 12.5.",
        "en": "\"{field}\": \"{value}\" is not a number. Type e.g. 12.5 or 12,5.",
    },
    "logged.err.out_of_range": {
        "fr": "« {field} » : {value} {unit} est impossible (valeurs admises de {min} à {max} {unit}). Vérifiez la saisie.",
        "en": "\"{field}\": {value} {unit} is impossible (allowed {min} to {max} {unit}). Check the entry.",
    },
    "logged.err.comment_needed": {
        "fr": "« {field} » est non conforme : un commentaire est obligatoire (ce qui a été constaté, ce qui a été fait).",
        "en": "\"{field}\" failed: a comment is required (what was seen, what was done).",
    },
    "logged.refill": {
        "fr": "Remplissage détecté : la vitesse de baisse repart de ce relevé.",
        "en": "Refill detected: the decline rate restarts from this reading.",
    },
}
