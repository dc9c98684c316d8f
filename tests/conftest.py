"""Shared fixtures: every test runs with its own temporary data folder (never the user's data/)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# qc first, as app.py and the CLI do: it sets one BLAS thread per process before numpy loads (the tests run beside
# real servers on 2 cores; OpenBLAS's own threads made the Winston-Lutz analyses 2-3x slower)
import qc  # noqa: E402,F401
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def qc_data_dir(tmp_path, monkeypatch) -> Path:
    """A fresh, empty data folder for each test; the app must not build the demo unless asked."""
    d = tmp_path / "qcdata"
    monkeypatch.setenv("QC_DATA_DIR", str(d))
    monkeypatch.setenv("QC_NO_DEMO", "1")
    monkeypatch.setenv("QC_BACKUP_INTERVAL_HOURS", "0")  # no background backup thread in tests
    monkeypatch.delenv("QC_AUTH", raising=False)
    return d


def shared_data_required() -> bool:
    """In CI (CI=true) or with QC_REQUIRE_SHARED_DATA=1 the real images must be there: a missing
    file fails the test instead of skipping it (as QC_REQUIRE_BROWSER does for the browser)."""
    return os.environ.get("CI", "").lower() in ("true", "1") or os.environ.get("QC_REQUIRE_SHARED_DATA", "") == "1"


def shared_file(*parts: str) -> Path:
    """A file of ../shared/data; absent, the test skips with a clear reason, or fails in CI."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        reason = f"needs the shared real-image data ({path}); it sits beside the repository in CI as ../shared/data"
        if shared_data_required():
            pytest.fail(reason + " (required here: CI or QC_REQUIRE_SHARED_DATA=1)", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The demo database, built once per test run by the real command `python -m qc demo` (about 32 s of CPU), and
    that command's outcome (test_cli checks it). Under pytest-xdist the workers share one build: the first one to
    get here builds it under a file lock, the others wait for it, then read it."""
    import fcntl
    import json

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, common to every worker
    d = root / "demo-template"
    done = root / "demo-template.json"
    with open(root / "demo-template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            env = {**os.environ, "QC_DATA_DIR": str(d), "QC_NO_DEMO": "1"}
            out = subprocess.run([sys.executable, "-m", "qc", "--data-dir", str(d), "demo"], cwd=REPO, env=env,
                                 capture_output=True, text=True, timeout=900)
            done.write_text(json.dumps({"returncode": out.returncode, "stdout": out.stdout, "stderr": out.stderr}))
    run = json.loads(done.read_text())
    return d, subprocess.CompletedProcess(["qc", "demo"], run["returncode"], run["stdout"], run["stderr"])


@pytest.fixture(scope="session")
def demo_template(demo_build) -> Path:
    """The demo database of the test run; tests copy it (`copy_demo`), never write it."""
    d, out = demo_build
    assert out.returncode == 0, out.stderr[-3000:]
    return d


def copy_demo(template: Path, target: Path) -> Path:
    """A private copy of the demo database in `target` (a test's own data folder)."""
    import shutil

    shutil.copytree(template, target, dirs_exist_ok=True)
    return target


@pytest.fixture
def store(qc_data_dir):
    from qc.records.storage import open_store

    s = open_store(qc_data_dir)
    yield s
    s.close()


@pytest.fixture
def machine(store) -> dict:
    mid = store.add_machine("Unity T", "UNITY-DEMO", "DEMO-0001", user="test")
    store.add_calibration(mid, 511.03, 652.75, "2020-01-01", user="test")
    return store.machine(mid)


def blank_rt_image(value: float = 0.0, when: dt.datetime | None = None, **kw) -> bytes:
    from qc.synthetic import rt_image_bytes, unity_raw_from_signal

    return rt_image_bytes(unity_raw_from_signal(np.full((1024, 1024), value)), acquired_at=when or dt.datetime(2026, 10, 1, 8, 0), **kw)


# Modules that start real servers or processes, render whole pages, build the demo or analyse every real set: the
# README's test command runs them (CI too); `pytest -m "not slow"` leaves them out for day-to-day work.
SLOW_MODULES = {
    "test_browser_e2e", "test_browser_forms", "test_browser_guide", "test_browser_intake", "test_browser_spc", "test_browser_verdict",
    "test_intake_orthanc", "test_intake_receiver", "test_security_receiver", "test_security_login_burst",
    "test_concurrency", "test_app_pages", "test_visible_text", "test_report", "test_validation", "test_mr_linac_page",
    "test_mr_pages", "test_record", "test_launcher", "test_startup", "test_security_session", "test_intake_review_page",
}


# The longest modules (full run of 2026-12-08, --durations=0), longest first. They are collected first so that
# pytest-xdist's workers (`-n 2 --dist loadfile`, the README's command) start on them and finish together instead of
# one worker ending the run alone on a long module; the other modules follow in file order.
LONGEST_FIRST = (
    "test_browser_guide", "test_visible_text", "test_winston_lutz", "test_report", "test_cli", "test_concurrency", "test_security_receiver",
    "test_browser_e2e", "test_placeholder_dates", "test_security_zip", "test_browser_verdict", "test_security_auth",
    "test_spc", "test_browser_spc", "test_app_pages", "test_trust", "test_security_disk",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.module.__name__.rsplit(".", 1)[-1], len(rank)))  # stable: file order kept
