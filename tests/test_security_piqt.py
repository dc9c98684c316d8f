"""A PIQT "report" far larger than a real one is refused at once (issue 18 §7)."""

from __future__ import annotations

import io
import subprocess
import sys
import time
import zipfile

import pytest

from conftest import REPO
from qc.errors import QCInputError
from qc.mr import piqt
from qc.synthetic.piqt import demo_report


def test_real_sized_report_is_well_under_the_limit():
    assert len(demo_report()) < piqt.MAX_REPORT_BYTES / 50
    assert piqt.parse_report("r.htm", demo_report()).values


def test_150_mb_html_refused_at_once_in_the_analyser():
    page = b"<html><body><table>" + b"<tr><td>x</td></tr>" * (150 * 1024**2 // 18) + b"</table></body></html>"
    assert len(page) > 150 * 10**6
    t0 = time.perf_counter()
    with pytest.raises(QCInputError) as exc:
        piqt.analyse([("piqt.htm", page)], None)
    assert time.perf_counter() - t0 < 0.5
    assert exc.value.key == "piqt.err.too_large"
    assert "rapport PIQT" in exc.value.message("fr") and "limite 5 Mo" in exc.value.message("fr")


def test_oversized_report_inside_a_zip_refused_too():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("piqt.htm", b"<html>" + b" " * (6 * 1024**2) + b"</html>")
    with pytest.raises(QCInputError) as exc:
        piqt.analyse([("piqt.zip", buf.getvalue())], None)
    assert exc.value.key == "piqt.err.too_large"


def test_cli_refuses_a_150_mb_report_in_one_sentence(tmp_path):
    big = tmp_path / "piqt.htm"
    with open(big, "wb") as fh:
        fh.write(b"<html><body>")
        for _ in range(150):
            fh.write(b"<p>x</p>" * (1024**2 // 8))
        fh.write(b"</body></html>")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "qc", "--data-dir", str(tmp_path / "d"), "analyse", "piqt", str(big)],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert time.perf_counter() - t0 < 20  # interpreter start and imports included; was over 120 s
