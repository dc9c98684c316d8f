"""Opens the app in the default browser once the local server answers (used by run.bat on Windows), and warms a
freshly started server so that a bookmarked page opens at once.

run.bat starts Streamlit headless (no e-mail prompt, no Streamlit-driven browser launch) and runs
`python -m qc.launcher URL` beside it: this waits for `URL/_stcore/health` (at most `timeout` s), runs the app once
through `URL/_stcore/script-health-check` (see `warm_up`), then opens URL in the user's browser. On the shared server
`python -m qc.launcher --no-browser URL` does the waiting and the warming only (systemd `ExecStartPost`, docs/server.md).
Never imports streamlit.
"""

from __future__ import annotations

import sys
import time
import urllib.request
import webbrowser


def warm_up(url: str, timeout_s: float = 60.0) -> bool:
    """Run the app's script once on the server (`server.scriptHealthCheckEnabled`, on in `.streamlit/config.toml`).

    Why: the client's layout keeps the pages in a folder named `pages/`, which Streamlit treats as legacy pages until
    `st.navigation` has run once in the server's life; until then the first visit by direct link (a bookmark to
    /field) shows a "Page not found" dialog. One script run at start switches the server to the app's navigation
    (app.py registers the pages even behind the login). False when the endpoint did not answer (the app still works).
    """
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/_stcore/script-health-check", timeout=timeout_s) as r:
            return r.status == 200
    except OSError:
        return False


def wait_for_server(url: str, timeout_s: float = 120.0) -> bool:
    """Poll the server's health endpoint until it answers; False when it never did within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    print(f"The app did not answer at {url} within {timeout_s:.0f} s; open it by hand once it has started.", file=sys.stderr)
    return False


def wait_and_open(url: str, timeout_s: float = 120.0, browser: bool = True) -> bool:
    """Wait for the server, warm it, then open `url` in the browser (unless `browser` is False)."""
    if not wait_for_server(url, timeout_s):
        return False
    warm_up(url)
    if browser:
        webbrowser.open(url)
    return True


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--no-browser"]
    sys.exit(0 if wait_and_open(args[0] if args else "http://localhost:8501", browser="--no-browser" not in sys.argv) else 1)
