"""The catalogue of user-facing strings (French by default, English on request).

Every sentence the UI, the CLI or a report shows comes from here via `t(key, lang, **params)`.
The catalogue is split by area into `qc/messages/*.py` (each defines `MESSAGES = {key: {"fr", "en"}}`)
so that each test's strings live together; this module merges them and refuses duplicate keys.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
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
        if lang == "fr":  # numbers read with a decimal comma in French, wherever a message was given them
            params = {k: _decimal_comma(v) for k, v in params.items()}
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text
    return text


_DECIMAL = re.compile(r"[-+−]?\d+\.\d+")


class _CommaFloat(float):
    """A float that prints with a decimal comma, whatever the message's format spec ({pos:.1f}, {flip:g}, {d})."""

    def __format__(self, spec: str) -> str:
        return format(float(self), spec).replace(".", ",")

    def __str__(self) -> str:
        return format(self, "")


def _decimal_comma(value: Any) -> Any:
    """0.64 or "0.64" → 0,64 (a float, or a string that is exactly a decimal number); anything else unchanged."""
    if isinstance(value, float):
        return _CommaFloat(value)
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        return value.replace(".", ",")
    return value


def has(key: str) -> bool:
    return key in CATALOGUE
