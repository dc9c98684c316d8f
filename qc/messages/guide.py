"""Strings of the user guide's link on each test page (the guide itself is docs/guide/, in French)."""

MESSAGES = {
    "guide.open": {"fr": "Guide d'utilisation", "en": "User guide (in French)"},
    "guide.title": {"fr": "Guide d'utilisation — {test}", "en": "User guide — {test} (in French)"},
    "guide.help": {
        "fr": "Ce qu'il faut acquérir, comment envoyer les images, comment lire le résultat et que faire en cas d'échec.",
        "en": "What to acquire, how to send the images, how to read the result and what to do when it fails (in French).",
    },
}
