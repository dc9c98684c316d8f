"""What every module of the records layer shares: the sentence of a refused write (`StorageError`), the
stored form of a date (`now_iso`, `_date_iso`: ISO to the second; a missing date is an error, never "now"),
the JSON of stored values (`_json_default`) and the record version of a session stored whole.

Owns no table: the tables are owned by `storage` (connection, transactions, migrations) and the concern modules
(`sessions`, `references`, `machines`, `audit`, `settings`, `intake`, `auth`, `signatures`, `spc_records`, `logged`).
"""

from __future__ import annotations

import datetime as dt
import errno
import sqlite3
from typing import Any

from qc.errors import QCInputError

RECORD_VERSION = 1  # what `sessions.record_version` says of a session stored with its pictures (m008)
EPOCH = "2000-01-01"  # the valid_from of the default tolerances seeded from the test definitions


class StorageError(QCInputError):
    """A write the data folder or the database refused: one sentence, with the reason in the
    reader's language (disk full, write access denied, input/output error, database busy)."""

    def __init__(self, key: str, reason_key: str) -> None:
        self.reason_key = reason_key
        super().__init__(key, reason=reason_key)

    def message(self, lang: str = "fr") -> str:
        from qc.i18n import t

        return t(self.key, lang, reason=t(self.reason_key, lang))


def disk_error(exc: OSError) -> StorageError:
    """The sentence for a failed file write."""
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        reason = "err.disk_full"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        reason = "err.disk_readonly"
    elif exc.errno in (errno.ENOENT, errno.ENOTDIR):
        reason = "err.disk_missing"
    else:
        reason = "err.disk_io"
    return StorageError("err.disk", reason)


def database_error(exc: sqlite3.Error) -> StorageError:
    """The sentence for a failed database write (SQLite's own wording mapped to a reason)."""
    text = str(exc).lower()
    if "full" in text:
        reason = "err.disk_full"
    elif "readonly" in text or "read-only" in text:
        reason = "err.disk_readonly"
    elif "locked" in text or "busy" in text:
        reason = "err.db_busy"
    else:
        reason = "err.disk_io"
    return StorageError("err.database", reason)


def _converts(exc: BaseException) -> bool:
    """SQLite errors that come from the disk or from other writers, not from a bug in a query."""
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError



def now_iso() -> str:
    return dt.datetime.now().replace(microsecond=0).isoformat(sep=" ")


def _date_iso(value: dt.datetime | dt.date | str | None) -> str:
    """A date as stored (ISO, seconds). A missing date is an error, never "now" nor "the newest rules"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise QCInputError("err.no_acquisition_date")
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        return value.replace(microsecond=0).isoformat(sep=" ")
    return value.isoformat()



def _next_month(month: str) -> str:
    year, mon = (int(x) for x in month.split("-"))
    return f"{year + (mon == 12):04d}-{mon % 12 + 1:02d}-01"


def _next_day(date: str) -> str:
    try:
        return (dt.date.fromisoformat(date[:10]) + dt.timedelta(days=1)).isoformat()
    except ValueError:
        return date


def _json_default(obj: Any):
    import numpy as np

    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (dt.datetime, dt.date)):
        return obj.isoformat()
    return str(obj)

