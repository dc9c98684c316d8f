"""Where the app keeps its data: `$QC_DATA_DIR` when set, else `data/` beside `app.py`.

The data folder holds the SQLite database (`qc.sqlite`), the stored input files (`files/`, named by
content hash) and backups (`backups/`). Tests always point `QC_DATA_DIR` at a temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DB_FILENAME = "qc.sqlite"


def data_dir() -> Path:
    env = os.environ.get("QC_DATA_DIR", "").strip()
    path = Path(env).expanduser() if env else REPO_ROOT / "data"
    return path.resolve()


def db_path(base: Path | None = None) -> Path:
    return (base or data_dir()) / DB_FILENAME


# Constants the command line shows in its parser, kept here (a module that imports nothing heavy) so that
# `python -m qc --help` imports neither pynetdicom nor pandas: the DICOM receiver's defaults (qc.intake.receiver)
# and the kinds of machine event (qc.records.storage).
RECEIVER_AE_TITLE = "MRLINACQC"
RECEIVER_PORT = 11112
EVENT_KINDS = ("service", "upgrade", "recalibration", "mlc_change", "other")
