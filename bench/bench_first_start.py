"""What a newcomer waits for on the first start: `streamlit run app.py` on an empty data folder, the
browser opens Home, the demo database is built behind the spinner, Home shows the dashboard.

Measures, with Debian's chromium driven by Playwright: server start to `/_stcore/health`, then
first page load to "Tableau de bord QC" visible (includes the demo build), the CPU time of the
server process and its children (the demo's image-generating workers) from /proc, and the load
average before and after. Also times `python -m qc demo` alone with its CPU time.

    .venv/bin/python bench/bench_first_start.py [--port 8590]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process and its waited-for children (from /proc/<pid>/stat), in s."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(x) for x in fields[11:15]) / ticks


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def demo_cli(data: Path) -> tuple[float, float]:
    env = {**os.environ, "QC_DATA_DIR": str(data)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "qc", "demo"], cwd=REPO, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def first_page(data: Path, port: int) -> dict:
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "QC_DATA_DIR": str(data), "QC_NO_DEMO": "0", "QC_BACKUP_INTERVAL_HOURS": "0"}
    env.pop("QC_AUTH", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true",
                             "--server.address", "127.0.0.1"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        health = time.perf_counter() - t0
        cpu_at_health = proc_cpu_s(proc.pid)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(600000)
            t1 = time.perf_counter()
            page.goto(url)
            page.get_by_text("Tableau de bord QC").wait_for()
            page.get_by_text("Échéancier").wait_for()
            first = time.perf_counter() - t1
            cpu_first = proc_cpu_s(proc.pid) - cpu_at_health
            t2 = time.perf_counter()
            page.reload()
            page.get_by_text("Échéancier").wait_for()
            second = time.perf_counter() - t2
            browser.close()
        return {"health_s": health, "first_page_s": first, "server_cpu_first_page_s": cpu_first, "second_page_s": second}
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8590)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="qc_first_start_"))
    try:
        print(f"load average before: {load()} on {os.cpu_count()} CPUs")
        wall, cpu = demo_cli(tmp / "cli")
        print(f"python -m qc demo: wall {wall:.1f} s, CPU {cpu:.1f} s (process and its workers); load after: {load()}")
        r = first_page(tmp / "app", args.port)
        print(f"server start → health {r['health_s']:.1f} s; first page (demo built behind the spinner) {r['first_page_s']:.1f} s wall, "
              f"server CPU {r['server_cpu_first_page_s']:.1f} s; Home again {r['second_page_s']:.1f} s; load after: {load()}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
