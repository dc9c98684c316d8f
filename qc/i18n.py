"""The catalogue of user-facing strings (French by default, English on request).

Every sentence the UI, the CLI or a report shows comes from here via `t(key, lang, **params)`.
The catalogue is split by area into `qc/messages/*.py` (each defines `MESSAGES = {key: {"fr", "en"}}`)
so that each test's strings live together; this module merges them and refuses duplicate keys.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

LANGUAGES = ("fr", "en")
DEFAULT_LANG = "fr"


def _load() -> dict[str, dict[str, str]]:
    import qc.messages as pkg

    merged: dict[str, dict[str, str]] = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        mod = importlib.import_module(f"qc.messages.{info.name}")
        for key, texts in mod.MESSAGES.items():
            if key in merged:
                raise RuntimeError(f"message key {key!r} defined twice (qc/messages/{info.name}.py)")
            merged[key] = texts
    return merged


CATALOGUE: dict[str, dict[str, str]] = _load()


def t(key: str, lang: str = DEFAULT_LANG, **params: Any) -> str:
    """The text for `key` in `lang` (falling back to French, then to the key itself), formatted."""
    entry = CATALOGUE.get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry.get(DEFAULT_LANG) or key
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text
    return text


def has(key: str) -> bool:
    return key in CATALOGUE
