"""Disk full and dead writers (issue 18 §8): one sentence and exit 2 in the CLI, an error box in the
page, nothing stored, no `.part` left; a writer killed mid-write leaves a `.part` swept at the next
start. ENOSPC is simulated (the write raises it), and for the CLI also produced for real on a
2 MB tmpfs when the machine allows a private mount (unshare -m)."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO
from pages_nav import open_page
from qc.records import sessions, storage
from qc.records.storage import StorageError, open_store, sweep_partial_files


def _full_disk_open(real_open=open):
    """`open` whose writes fail with ENOSPC after creating the file (as a full disk does)."""

    class Full:
        def __init__(self, fh):
            self.fh = fh

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self.fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    def fake(path, mode="r", *a, **k):
        fh = real_open(path, mode, *a, **k)
        return Full(fh) if "w" in mode else fh

    return fake


def parts(data_dir: Path) -> list[Path]:
    return list((data_dir / "files").glob("*/*.part"))


def field_inputs(tmp_path: Path) -> list[Path]:
    from qc.demo_inputs import demo_inputs_for

    out = []
    for name, data in demo_inputs_for("field")():
        p = tmp_path / "in" / Path(name).name
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(data)
        out.append(p)
    return out


def add_unity(data_dir: Path) -> None:
    with open_store(data_dir) as s:
        mid = s.add_machine("Unity T", "UNITY-DEMO", "DEMO-0001")
        s.add_calibration(mid, 511.03, 652.75, "2000-01-01")


def test_store_on_full_disk_raises_one_sentence_and_leaves_no_part(qc_data_dir, monkeypatch, tmp_path):
    from qc import pipeline
    from qc.readers.dicom_io import read_paths
    from qc.registry import get_test

    add_unity(qc_data_dir)
    with open_store(qc_data_dir) as s:
        spec = get_test("field", s)
        analysis = pipeline.analyse(s, spec, read_paths(field_inputs(tmp_path)), s.machine_by_name("Unity T"))
        monkeypatch.setattr(sessions, "open", _full_disk_open(), raising=False)  # where stored files are written
        with pytest.raises(StorageError) as exc:
            pipeline.store_analysis(s, analysis, operator="AG")
        assert exc.value.message("fr").startswith("Écriture impossible dans le dossier de données (disque plein)")
        assert "\n" not in exc.value.message("fr")
        assert s.db["sessions"].count == 0
    assert parts(qc_data_dir) == []


def test_cli_on_full_disk_prints_one_sentence_and_exits_2(qc_data_dir, monkeypatch, tmp_path, capsys):
    from qc import cli

    add_unity(qc_data_dir)
    files = [str(p) for p in field_inputs(tmp_path)]
    monkeypatch.setattr(sessions, "open", _full_disk_open(), raising=False)  # where stored files are written
    code = cli.main(["--data-dir", str(qc_data_dir), "analyse", "field", *files, "--machine", "Unity T", "--store"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "disque plein" in err and "Traceback" not in err
    assert parts(qc_data_dir) == []
    with open_store(qc_data_dir) as s:
        assert s.db["sessions"].count == 0


def test_database_full_is_one_sentence(qc_data_dir, monkeypatch):
    import sqlite3

    with open_store(qc_data_dir) as s:
        def full(*a, **k):
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(s, "_audit", full)
        with pytest.raises(StorageError) as exc:
            s.add_machine("Unity Z")
        assert "disque plein" in exc.value.message("fr") and "base de données" in exc.value.message("fr")
        monkeypatch.undo()
        assert s.machine_by_name("Unity Z") is None


def test_page_shows_an_error_box_on_full_disk(qc_data_dir, monkeypatch):
    from streamlit.testing.v1 import AppTest

    add_unity(qc_data_dir)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    at.session_state["operator"] = "AG"
    at.run()
    open_page(at, "field").run()
    at.button(key="field_demo").click().run()
    assert not at.exception and not other_errors(at)
    monkeypatch.setattr(sessions, "open", _full_disk_open(), raising=False)  # where stored files are written
    at.button(key="field_save").click().run()
    assert not at.exception
    assert any("disque plein" in e.value for e in at.error), [e.value for e in at.error]
    assert parts(qc_data_dir) == []
    with open_store(qc_data_dir) as s:
        assert s.db["sessions"].count == 0


_SLOW_WRITER = r"""
import os, sys, time
sys.path.insert(0, {repo!r})
from qc.records import storage
from qc.results import InputFile
store = storage.Store({data!r})
def stuck(fd):
    print("writing", flush=True)
    time.sleep(60)
os.fsync = stuck
store._store_file(InputFile("x.dcm", "ab" * 32, 5, "", b"12345"))
"""


def test_kill_9_during_a_write_leaves_a_part_swept_at_next_start(qc_data_dir):
    open_store(qc_data_dir).close()
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER.format(repo=str(REPO), data=str(qc_data_dir))],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    left = parts(qc_data_dir)
    assert len(left) == 1 and str(proc.pid) in left[0].name
    open_store(qc_data_dir).close()  # the next start
    assert parts(qc_data_dir) == []
    assert not (qc_data_dir / "files" / "ab" / ("ab" * 32)).exists()


def test_sweep_keeps_the_part_of_a_live_writer(qc_data_dir):
    open_store(qc_data_dir).close()
    live = qc_data_dir / "files" / "cd" / f"{'cd' * 32}.{os.getpid()}.0000.part"
    live.parent.mkdir(parents=True, exist_ok=True)
    live.write_bytes(b"half")
    assert sweep_partial_files(qc_data_dir) == 0 and live.exists()
    old = time.time() - storage.PART_STALE_S - 1
    os.utime(live, (old, old))
    assert sweep_partial_files(qc_data_dir) == 1 and not live.exists()


def _can_mount_tmpfs() -> bool:
    if not shutil.which("unshare") or sys.platform != "linux":
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt && umount /mnt"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs a private tmpfs mount (unshare -m, root or user namespaces)")
def test_cli_on_a_real_full_tmpfs(tmp_path):
    """The data folder on a 3 MB tmpfs filled up: the store of a 10 MB session fails for real."""
    files = " ".join(str(p) for p in field_inputs(tmp_path))
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    py = sys.executable
    script = f"""
set -e
mount -t tmpfs -o size=3m tmpfs {mnt}
cd {REPO}
{py} -m qc --data-dir {mnt}/d add-machine "Unity T" --station UNITY-DEMO --serial DEMO-0001 --cax 511.03 652.75 --valid-from 2000-01-01 >/dev/null
set +e
{py} -m qc --data-dir {mnt}/d analyse field {files} --machine "Unity T" --store 2> {tmp_path}/err.txt
echo $? > {tmp_path}/code.txt
find {mnt}/d/files -name '*.part' | wc -l > {tmp_path}/parts.txt
{py} -c "import sqlite3; print(sqlite3.connect('{mnt}/d/qc.sqlite').execute('select count(*) from sessions').fetchone()[0])" > {tmp_path}/sessions.txt
"""
    out = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    err = (tmp_path / "err.txt").read_text()
    assert (tmp_path / "code.txt").read_text().strip() == "2", err
    assert err.count("\n") == 1 and "disque plein" in err, err
    assert (tmp_path / "parts.txt").read_text().strip() == "0"
    assert (tmp_path / "sessions.txt").read_text().strip() == "0"


def other_errors(at) -> list[str]:
    """Error boxes other than the verdict itself (a demo session without a baseline reads Non conforme)."""
    return [e.value for e in at.error if "Résultat global" not in e.value]
