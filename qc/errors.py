"""The one exception type a physicist may see: a clear sentence, never a traceback.

`QCInputError` carries a catalogue key (see `qc.i18n`) and its parameters, so the page shows it in the
user's language and the CLI prints it on stderr. Anything else raised by an analyser is a bug.
"""

from __future__ import annotations

from typing import Any


class QCInputError(Exception):
    """Bad input: which file, what is wrong, what to do.

    `key` names a message in `qc.i18n.CATALOGUE`; `params` fill its placeholders.
    """

    def __init__(self, key: str, **params: Any) -> None:
        self.key = key
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str = "fr") -> str:
        from qc.i18n import t

        return t(self.key, lang, **self.params)


class DuplicateUploadError(QCInputError):
    """The same file (content hash or SOPInstanceUID) is already stored in another session."""

    def __init__(self, filename: str, session_id: int, acquired_at: str) -> None:
        super().__init__("err.duplicate", file=filename, session=session_id, date=acquired_at)
        self.session_id = session_id


class QCInputErrors(QCInputError):
    """Several problems of one input at once (a form with three bad fields shows three messages).

    `errors` are the individual `QCInputError`s in the form's order; `message()` joins them one per line.
    """

    def __init__(self, errors: list[QCInputError]) -> None:
        self.errors = list(errors)
        self.key = self.errors[0].key if self.errors else "err.unknown"
        self.params = self.errors[0].params if self.errors else {}
        Exception.__init__(self, self.message("en"))

    def message(self, lang: str = "fr") -> str:
        return "\n".join(e.message(lang) for e in self.errors)

    def messages(self, lang: str = "fr") -> list[str]:
        return [e.message(lang) for e in self.errors]
