"""The Windows start-up path: run.bat (read, since Windows cannot run here) and qc.launcher."""

from __future__ import annotations

import http.server
import threading

from conftest import REPO


def test_run_bat_starts_headless_checks_python_and_cleans_a_failed_install():
    raw = (REPO / "run.bat").read_bytes()
    assert b"\r\n" in raw and raw.count(b"\n") == raw.count(b"\r\n"), "run.bat needs CRLF line ends (cmd's goto/labels)"
    text = raw.decode("ascii")
    assert "--server.headless true" in text and "--server.headless false" not in text
    assert "qc.launcher" in text  # opens the browser itself
    assert "sys.version_info >= (3, 11)" in text
    assert 'rmdir /s /q ".venv"' in text and ":install_failed" in text and ":venv_failed" in text
    # Every goto has its label.
    import re

    labels = set(re.findall(r"^:(\w+)", text, flags=re.M))
    assert set(re.findall(r"goto :(\w+)", text)) <= labels
    config = (REPO / ".streamlit" / "config.toml").read_text()
    assert "showEmailPrompt = false" in config and "gatherUsageStats = false" in config


def test_launcher_opens_the_browser_once_the_server_answers(monkeypatch):
    from qc import launcher

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200 if self.path == "/_stcore/health" else 404)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    opened = []
    monkeypatch.setattr(launcher.webbrowser, "open", opened.append)
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        assert launcher.wait_and_open(url, timeout_s=10)
    finally:
        server.shutdown()
    assert opened == [url]
    assert not launcher.wait_and_open("http://127.0.0.1:9", timeout_s=1)


def test_app_and_cli_load_numpy_with_one_blas_thread():
    """app.py and `python -m qc` import qc before numpy: OpenBLAS starts with one thread (several analyses share the
    server's cores), unless the user set the variable; OpenBLAS then starts no worker thread of its own."""
    import os
    import subprocess
    import sys

    from conftest import REPO

    code = ("import qc, os, numpy, threading; print(os.environ['OPENBLAS_NUM_THREADS'], "
            "len(os.listdir('/proc/self/task')))")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    one = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    mine = subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**env, "OPENBLAS_NUM_THREADS": "2"},
                          capture_output=True, text=True, check=True)
    assert one.stdout.split()[0] == "1" and mine.stdout.split()[0] == "2"
    assert int(one.stdout.split()[1]) < int(mine.stdout.split()[1])  # the user's 2 threads exist, ours do not
    assert (REPO / "app.py").read_text(encoding="utf-8").index("import qc") < (REPO / "app.py").read_text(encoding="utf-8").index("from pages")
