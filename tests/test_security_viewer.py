"""The viewer's file menu (issue 26 §7): names are the files' own names, never a server path nor the `../`
of a zip member."""

from __future__ import annotations

import datetime as dt

from test_intake_review_page import start

from qc.intake import viewer

WHEN = dt.datetime(2026, 10, 5, 8, 0)


def test_display_name_keeps_only_the_files_own_name():
    assert viewer.display_name("../../etc/passwd.dcm") == "passwd.dcm"
    assert viewer.display_name("C:\\Users\\phys\\Unity\\img_01.dcm") == "img_01.dcm"
    assert viewer.display_name("/srv/qc/data/files/ab/abcdef.dcm") == "abcdef.dcm"
    assert viewer.display_name("..") == "image" and viewer.display_name("") == "image"
    assert viewer.display_name("champ 1.dcm") == "champ 1.dcm"


def test_the_viewer_menu_shows_no_path(store, qc_data_dir):
    from qc import pipeline
    from qc.registry import get_test
    from qc.synthetic import UNITY_SERIAL, UNITY_STATION
    from qc.synthetic.mlc import demo_session_slits

    mid = store.add_machine("Unity 1", UNITY_STATION, UNITY_SERIAL, user="test")
    store.add_calibration(mid, 511.03, 652.75, "2020-01-01", user="test")
    files = demo_session_slits(WHEN, seed=1)
    hostile = ["../../../srv/qc/data/a.dcm", "C:\\Users\\phys\\b.dcm", "zip/../../c.dcm"]
    named = [(hostile[i % len(hostile)].replace(".dcm", f"{i}.dcm"), data) for i, (_n, data) in enumerate(files)]
    analysis = pipeline.analyse(store, get_test("slits", store), named, store.machine(mid))
    pipeline.store_analysis(store, analysis, operator="test")
    at = start("pages/viewer.py")
    assert not at.exception
    options = at.selectbox(key="viewer_choice").options
    assert len(options) == len(files)
    for label in options:
        name = label.rsplit(" — ", 1)[-1]
        assert "/" not in name and "\\" not in name and ".." not in name, label
    assert any(label.endswith("a0.dcm") for label in options)
