"""Watch folder: files dropped on a network share take the same path as objects received over DICOM.

Owns the folder protocol: a file is read only once it is complete (its size and modification time have not
changed for `settle_s` seconds, so a copy still in progress is left alone), taken once (moved into `done/`
after it is kept in the inbox, or into `failed/` with a `.why.txt` beside it), then grouped and analysed by
`qc.intake.inbox.process_inbox`. Polling rather than file-system events: a network share may deliver none.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

from qc.errors import QCInputError
from qc.intake import inbox
from qc.readers.dicom_io import expand_inputs

DONE, FAILED = "done", "failed"


def _move(src: Path, folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    target = folder / src.name
    k = 1
    while target.exists():
        target = folder / f"{src.stem}.{k}{src.suffix}"
        k += 1
    shutil.move(str(src), target)
    return target


def settled_files(folder: Path, settle_s: float, seen: dict[Path, tuple[int, float, float]], now: float | None = None) -> list[Path]:
    """Files whose size and mtime have not changed for `settle_s` seconds (updates `seen`)."""
    now = time.time() if now is None else now
    ready = []
    for f in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        st = f.stat()
        sig = (st.st_size, st.st_mtime)
        prev = seen.get(f)
        if prev is None or prev[:2] != sig:
            seen[f] = (sig[0], sig[1], now)
            continue
        if now - prev[2] >= settle_s and now - st.st_mtime >= settle_s:
            ready.append(f)
    for f in list(seen):
        if not f.exists():
            del seen[f]
    return ready


def take_file(store, path: Path, lang: str = "fr") -> tuple[int, str]:
    """Keep every DICOM object of one dropped file (a .zip may hold several) in the inbox, then move the file
    to done/ (or failed/ with why). Returns (objects kept, the reason when it failed)."""
    try:
        data = path.read_bytes()
        kept = 0
        for _name, member in expand_inputs([(path.name, data)]):
            inbox.accept_object(store, member, f"dossier {path.parent.name}")
            kept += 1
        _move(path, path.parent / DONE)
        return kept, ""
    except QCInputError as exc:
        reason = exc.message(lang)
    except OSError as exc:
        reason = f"{type(exc).__name__}: {exc.strerror or exc}"
    moved = _move(path, path.parent / FAILED)
    (moved.parent / f"{moved.name}.why.txt").write_text(reason + os.linesep, encoding="utf-8")
    return 0, reason


def watch(data_dir, folder: Path, stop: threading.Event | None = None, settle_s: float = 5.0, poll_s: float = 2.0,
          once: bool = False, lang: str = "fr") -> list[tuple[str, int, str]]:
    """Poll `folder` until `stop` (or one pass with `once`, which takes files already settled)."""
    from qc.records.storage import Store

    stop = stop or threading.Event()
    folder = Path(folder)
    (folder / DONE).mkdir(parents=True, exist_ok=True)
    seen: dict[Path, tuple[int, float, float]] = {}
    log: list[tuple[str, int, str]] = []
    with Store(data_dir) as store:
        while True:
            if once:
                now = time.time()
                ready = [f for f in sorted(folder.iterdir()) if f.is_file() and not f.name.startswith(".")
                         and now - f.stat().st_mtime >= settle_s]
            else:
                ready = settled_files(folder, settle_s, seen)
            for f in ready:
                kept, why = take_file(store, f, lang)
                log.append((f.name, kept, why))
            inbox.process_inbox(store, lang=lang)
            if once or stop.wait(poll_s):
                return log
