"""Opens the app in the default browser once the local server answers (used by run.bat on Windows).

run.bat starts Streamlit headless (no e-mail prompt, no Streamlit-driven browser launch) and runs
`python -m qc.launcher URL` beside it: this waits for `URL/_stcore/health` (at most `timeout` s),
then opens URL in the user's browser. Never imports streamlit.
"""

from __future__ import annotations

import sys
import time
import urllib.request
import webbrowser


def wait_and_open(url: str, timeout_s: float = 120.0) -> bool:
    """Poll the server's health endpoint, then open `url`; False when it never answered."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    webbrowser.open(url)
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    print(f"The app did not answer at {url} within {timeout_s:.0f} s; open it by hand once it has started.", file=sys.stderr)
    return False


if __name__ == "__main__":
    sys.exit(0 if wait_and_open(sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8501") else 1)
