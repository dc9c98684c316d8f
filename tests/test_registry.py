"""The registry loads an analyser only when it is used, and a test is declared in two places (its module, one line).

The import checks run in a new interpreter (`sys.modules` of this process already holds every analyser).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from conftest import REPO
from qc import registry
from qc import spec as qc_spec

ANALYSERS = [module for _key, module in registry.TESTS]


def analysers_imported_by(code: str) -> list[str]:
    """The analyser modules of the registry present in `sys.modules` after running `code` in a new process."""
    script = code + f"\nimport json, sys\nprint(json.dumps([m for m in {ANALYSERS!r} if m in sys.modules]))\n"
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_registry_and_a_logged_test_import_no_analyser():
    assert analysers_imported_by("import qc.registry as r\nspec = r.get_test('couch')\nassert spec.kind == 'logged'") == []


def test_a_test_imports_its_own_analyser_only():
    imported = analysers_imported_by("import qc.registry as r\nassert r.get_test('wl').key == 'wl'")
    assert imported == ["qc.mv.winston_lutz"]


def test_the_menus_import_every_analyser():
    assert analysers_imported_by("import qc.registry as r\nr.all_tests()") == ANALYSERS


def test_a_logged_test_stored_from_the_command_line_imports_no_analyser(tmp_path):
    """The whole `python -m qc analyse couch … --store` path (open_store seeds the tolerances once, then not again)."""
    data = tmp_path / "data"
    subprocess.run([sys.executable, "-m", "qc", "--data-dir", str(data), "add-machine", "Unity A"], cwd=REPO, check=True, capture_output=True)
    code = (
        "import sys\nfrom qc.cli import main\n"
        f"assert main(['--data-dir', {str(data)!r}, 'analyse', 'couch', '--value', 'couch_readout_1_cm=17,5', "
        "'--value', 'couch_readout_2_cm=21,3', '--machine', 'Unity A', '--store']) == 0"
    )
    assert analysers_imported_by(code) == []


def test_help_imports_neither_pynetdicom_nor_pandas():
    code = "import sys\nfrom qc.cli import build_parser\nbuild_parser()\nassert not {'pynetdicom', 'pandas', 'pydicom'} & set(sys.modules), sorted({'pynetdicom', 'pandas', 'pydicom'} & set(sys.modules))"
    assert analysers_imported_by(code) == []


def _resolve(ref: str):
    module_name, _, function = ref.partition(":")
    return getattr(importlib.import_module(module_name), function)


@pytest.mark.parametrize("key, module", registry.TESTS, ids=[k for k, _ in registry.TESTS])
def test_every_line_names_a_module_defining_that_test(key, module, monkeypatch):
    """Everything the app knows of a test (spec, demo sessions, demo button, routing, menu place, page) is derived
    from its module alone: the registry imports that module and no other to answer for it."""
    mod = importlib.import_module(module)
    imported = []
    real_import = registry.importlib.import_module
    monkeypatch.setattr(registry.importlib, "import_module", lambda name: imported.append(name) or real_import(name))
    assert isinstance(mod.SPEC, qc_spec.TestSpec) and mod.SPEC.key == key
    assert registry.get_test(key) is mod.SPEC
    # the declarations the app derives its lists from
    assert hasattr(mod, "DEMO_INPUT") and hasattr(mod, "ROUTING") and hasattr(mod, "DEMO"), \
        f"{module}: declare DEMO_INPUT, ROUTING and DEMO (None when it has none)"
    assert mod.ROUTING is None or isinstance(mod.ROUTING, qc_spec.Routing)
    demo = registry.demo_sessions(key)
    assert demo is mod.DEMO
    ref = registry.demo_input_ref(key)
    assert set(imported) == {module}, imported  # this module only
    monkeypatch.undo()
    if ref is not None:
        from qc.demo_inputs import demo_inputs_for

        assert callable(demo_inputs_for(key))
    if demo is not None:
        # Every recipe the demo makes of it binds to its generator's signature (without generating the images).
        import datetime as dt
        import inspect

        from qc.demo import sessions_of

        make = _resolve(demo.make)
        recipes = sessions_of(key, demo, dt.date(2026, 10, 27), dt.date(2026, 12, 7), seed=1)
        assert recipes and all(r["test"] == key and r["gen"] == demo.gen for r in recipes)
        for r in recipes:
            inspect.signature(make).bind(**r["args"])
    group = getattr(mod, "MENU_GROUP", None)
    assert (group is None and key not in {k for keys in registry.menu_groups().values() for k in keys}) or key in registry.menu_groups()[group]
    if mod.SPEC.page is not None and mod.SPEC.page.endswith(".py"):
        assert (REPO / mod.SPEC.page).is_file(), mod.SPEC.page


def test_tests_sharing_a_generator_name_share_the_generator():
    """The plan stores the generator's name (`DEMO.gen`): two tests naming the same one must mean the same function."""
    by_gen = {}
    for key, demo in registry.demo_declarations():
        assert by_gen.setdefault(demo.gen, demo.make) == demo.make, (key, demo.gen)


def test_the_demo_plan_made_from_the_declarations_is_the_former_plan():
    """The plan of the demo's image sessions, now made from each module's `DEMO`, is byte for byte the one the
    former tables of qc/demo.py made (sha256 of the plan for this date and seed, measured on both codes); a
    change of a declaration changes it: then rebuild the demo and write why in docs/changelog.md."""
    import datetime as dt
    import hashlib

    import numpy as np

    from qc.demo import demo_period, image_plan

    start, end = demo_period(dt.date(2026, 12, 8))
    plan = image_plan(start, end, np.random.default_rng(20261121))
    assert len(plan) == 56
    assert hashlib.sha256(json.dumps(plan, ensure_ascii=False).encode()).hexdigest() == \
        "5892454db83301c16d65c35663a221beafe124416e9caef99738562be2a52c27"


def test_menu_groups_are_the_former_list():
    assert registry.MENU_GROUPS == {
        "mr-image": ("mr-snr", "mr-uniformity", "mr-ghosting", "mr-slice-thickness", "mr-geometry", "mr-resolution", "mr-acr"),
        "mr-linac": ("mr-b0", "mr-b0-gantry", "mr-b1", "mr-geometry-3d"),
    }


def test_keys_are_unique():
    keys = registry.analyser_keys()
    assert len(set(keys)) == len(keys)
    from qc.records.logged import BUILTIN_LOGGED

    assert not {lt.key for lt in BUILTIN_LOGGED} & set(keys)


def test_a_line_whose_module_defines_another_key_raises(monkeypatch):
    monkeypatch.setattr(registry, "TESTS", (("not-wl", "qc.mv.winston_lutz"),))
    with pytest.raises(registry.AnalyserModuleError, match="'wl'"):
        registry.get_test("not-wl")


def test_a_test_added_in_two_places_is_everywhere(monkeypatch, tmp_path):
    """A new analyser module (with SPEC, DEMO_INPUT, ROUTING, DEMO, MENU_GROUP) and one registry line: the menu and
    its group, the demo button, the demo database's plan (generated and analysed), the inbox's routing rules and
    expected image count, and the reserved logged keys all know it; nothing else is edited."""
    pkg = tmp_path / "qcextra"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "spoke.py").write_text(
        "import datetime as dt\n"
        "from qc.spec import DemoSessions, MetricSpec, Routing, TestSpec\n"
        "from qc.results import AnalysisResult, Measurement\n"
        "def analyse(inputs, ctx):\n"
        "    name, data = inputs[0]\n"
        "    when, radius = data.decode().split(';')\n"
        "    return AnalysisResult('spoke', [Measurement('radius_mm', float(radius), 'mm')], acquired_at=dt.datetime.fromisoformat(when))\n"
        "def demo():\n    return [('spoke.dcm', b'')]\n"
        "def session(when, seed, radius_mm):\n    return [('spoke.txt', f'{when};{radius_mm}'.encode())]\n"
        "SPEC = TestSpec(key='spoke', name_fr='Étoile', name_en='Star shot', frequency='monthly', kind='dicom',\n"
        "                metrics=(MetricSpec('radius_mm', 'mm', 'Rayon', 'Radius'),), analyse=analyse)\n"
        "DEMO_INPUT = 'qcextra.spoke:demo'\n"
        "ROUTING = Routing(pattern=r'STAR|ETOILE', modality='RTIMAGE', order=5, expected_images=3)\n"
        "DEMO = DemoSessions(make='qcextra.spoke:session', gen='spoke', span='monthly', weekday=4, time='17:00',\n"
        "                    months=(({'radius_mm': 0.6}, 'rayon en limite'), ({'radius_mm': 0.4}, '')))\n"
        "MENU_GROUP = 'mv-extra'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "TESTS", registry.TESTS + (("spoke", "qcextra.spoke"),))

    from qc.demo_inputs import demo_inputs_for
    from qc.intake import inbox
    from qc.records.logged import LoggedField, LoggedTest, save_custom_logged_test
    from qc.records.storage import open_store

    assert "spoke" in [s.key for s in registry.all_tests()]
    assert registry.menu_groups()["mv-extra"] == ("spoke",)
    assert demo_inputs_for("spoke")() == [("spoke.dcm", b"")]
    # The demo database's plan: the first Friday evening of the last full month and of the current one.
    import datetime as dt

    import numpy as np

    from qc import pipeline
    from qc.demo import demo_period, image_plan, make_inputs

    start, end = demo_period(dt.date(2026, 12, 8))
    spoke = [r for r in image_plan(start, end, np.random.default_rng(1)) if r["test"] == "spoke"]
    assert sorted((r["when"], r["args"]["radius_mm"], r["comment"]) for r in spoke) == [
        ("2026-11-06T17:00:00", 0.6, "rayon en limite"), ("2026-12-04T17:00:00", 0.4, "")]
    files = make_inputs(spoke[0])
    analysis = pipeline.analyse(None, registry.get_test("spoke"), files, None)
    assert analysis.result.metrics["radius_mm"] == spoke[0]["args"]["radius_mm"]
    assert analysis.result.analyser_version == registry.get_test("spoke").version
    rules = inbox.default_rules()
    assert rules[0] == {"test": "spoke", "field": "text", "pattern": "STAR|ETOILE", "modality": "RTIMAGE"}  # order 5: first
    assert inbox.default_expected()["spoke"] == 3
    header = inbox.Header(sop_instance_uid="1.2.3", sop_class_uid="", modality="RTIMAGE", study_uid="", station_name="",
                          device_serial="", manufacturer="", acquired_at=None, text="QA | ETOILE mensuelle", image_type="")
    assert inbox.route_test(header, rules, {"spoke", "wl", "field"}) == "spoke"
    with open_store(tmp_path / "data") as store:
        taken = LoggedTest(key="spoke", name_fr="x", name_en="x", frequency="daily", fields=[LoggedField("r", "r", "r")])
        with pytest.raises(ValueError, match="taken"):
            save_custom_logged_test(store, taken, user="t")


def test_default_routing_is_the_former_list():
    """The rules derived from the modules' declarations are the ones the inbox listed before (same order)."""
    from qc.intake import inbox

    assert inbox.default_rules() == [
        {"test": "wl", "field": "text", "pattern": r"\b(WL|WINSTON|LUTZ|BILLE)\b", "modality": "RTIMAGE"},
        {"test": "slits", "field": "text", "pattern": r"FENTE|SLIT", "modality": "RTIMAGE"},
        {"test": "leaves", "field": "text", "pattern": r"AQUA|LAMES?\b|LEAF|MLC", "modality": "RTIMAGE"},
        {"test": "field", "field": "text", "pattern": r"MVIC|CHAMP|FIELD", "modality": "RTIMAGE"},
    ]
    assert inbox.default_expected() == {"field": 5, "leaves": 6, "slits": 1}
    assert inbox.mr_study_tests() == {"mr-b0", "mr-b0-gantry", "mr-b1", "mr-geometry-3d"}


def test_open_store_seeds_the_default_tolerances_once_per_definitions(tmp_path, monkeypatch):
    from qc.records import storage

    calls = []
    real = storage.Store.seed_default_tolerances
    monkeypatch.setattr(storage.Store, "seed_default_tolerances", lambda self, tests: calls.append(len(tests)) or real(self, tests))
    with storage.open_store(tmp_path) as s:
        n_rows = s.db["tolerances"].count
    with storage.open_store(tmp_path) as s:
        assert s.db["tolerances"].count == n_rows
    assert len(calls) == 1 and n_rows > 0
    monkeypatch.setattr(registry, "definitions_fingerprint", lambda: "changed")
    with storage.open_store(tmp_path):
        pass
    assert len(calls) == 2
