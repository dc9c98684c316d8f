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


@pytest.mark.parametrize("key, module", registry.TESTS, ids=[k for k, _ in registry.TESTS])
def test_every_line_names_a_module_defining_that_test(key, module):
    mod = importlib.import_module(module)
    assert isinstance(mod.SPEC, qc_spec.TestSpec) and mod.SPEC.key == key
    assert registry.get_test(key) is mod.SPEC
    # the declarations the app derives its lists from
    assert hasattr(mod, "DEMO_INPUT") and hasattr(mod, "ROUTING"), f"{module}: declare DEMO_INPUT and ROUTING (None when it has none)"
    assert mod.ROUTING is None or isinstance(mod.ROUTING, qc_spec.Routing)
    if mod.DEMO_INPUT is not None:
        from qc.demo_inputs import demo_inputs_for

        assert callable(demo_inputs_for(key))


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
    """A new analyser module (with SPEC, DEMO_INPUT, ROUTING) and one registry line: the menu, the demo button,
    the inbox's routing rules and expected image count, and the reserved logged keys all know it."""
    pkg = tmp_path / "qcextra"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "spoke.py").write_text(
        "from qc.spec import MetricSpec, Routing, TestSpec\n"
        "from qc.results import AnalysisResult\n"
        "def analyse(inputs, ctx):\n    raise NotImplementedError\n"
        "def demo():\n    return [('spoke.dcm', b'')]\n"
        "SPEC = TestSpec(key='spoke', name_fr='Étoile', name_en='Star shot', frequency='monthly', kind='dicom',\n"
        "                metrics=(MetricSpec('radius_mm', 'mm', 'Rayon', 'Radius'),), analyse=analyse)\n"
        "DEMO_INPUT = 'qcextra.spoke:demo'\n"
        "ROUTING = Routing(pattern=r'STAR|ETOILE', modality='RTIMAGE', order=5, expected_images=3)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "TESTS", registry.TESTS + (("spoke", "qcextra.spoke"),))

    from qc.demo_inputs import demo_inputs_for
    from qc.intake import inbox
    from qc.records.logged import LoggedField, LoggedTest, save_custom_logged_test
    from qc.records.storage import open_store

    assert "spoke" in [s.key for s in registry.all_tests()]
    assert demo_inputs_for("spoke")() == [("spoke.dcm", b"")]
    rules = inbox.default_rules()
    assert rules[0] == {"test": "spoke", "field": "text", "pattern": "STAR|ETOILE", "modality": "RTIMAGE"}  # order 5: first
    assert inbox.default_expected()["spoke"] == 3
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
