"""The classic node API contract of every node, and the pack's packaging."""

from __future__ import annotations

import inspect
import subprocess
import sys
from types import ModuleType

import pytest
from conftest import PACK_NAME, ROOT

NODE_NAMES = [
    "QAGANLoadModel", "QAGANEnhance", "QAGANTrain", "QAGANSaveModel",
    "QAGANEnhanceFolder", "QAGANDegrade", "QAGANEvaluate",
]


def test_mappings(pack: ModuleType) -> None:
    assert sorted(pack.NODE_CLASS_MAPPINGS) == sorted(NODE_NAMES)
    assert set(pack.NODE_DISPLAY_NAME_MAPPINGS) == set(pack.NODE_CLASS_MAPPINGS)
    assert all(v.startswith("QAGAN ") for v in pack.NODE_DISPLAY_NAME_MAPPINGS.values())


@pytest.mark.parametrize("name", NODE_NAMES)
def test_node_contract(name: str, pack: ModuleType, comfy_env: ModuleType) -> None:
    cls = pack.NODE_CLASS_MAPPINGS[name]
    assert cls.CATEGORY == "image/enhance/QAGAN"
    assert isinstance(cls.DESCRIPTION, str) and len(cls.DESCRIPTION) > 40
    spec = cls.INPUT_TYPES()
    assert set(spec) <= {"required", "optional", "hidden"}
    inputs = {**spec.get("required", {}), **spec.get("optional", {})}
    for input_name, entry in inputs.items():
        assert isinstance(entry, tuple) and len(entry) == 2, input_name
        kind, options = entry
        assert isinstance(kind, (str, list)), input_name
        assert options.get("tooltip"), f"{name}.{input_name} has no tooltip"
        if isinstance(kind, list) and "default" in options and kind:
            assert options["default"] in kind, f"{name}.{input_name} default not a choice"
    fn = getattr(cls, cls.FUNCTION)
    params = [p for p in inspect.signature(fn).parameters if p != "self"]
    expected = [*inputs, *spec.get("hidden", {})]
    assert params == expected, f"{name}.{cls.FUNCTION} parameters differ from INPUT_TYPES"
    n = len(cls.RETURN_TYPES)
    assert len(cls.RETURN_NAMES) == n and len(cls.OUTPUT_TOOLTIPS) == n
    assert len(getattr(cls, "OUTPUT_IS_LIST", (False,) * n)) == n


def test_model_and_types_are_linked_consistently(pack: ModuleType, comfy_env: ModuleType) -> None:
    produced = {t for cls in pack.NODE_CLASS_MAPPINGS.values() for t in cls.RETURN_TYPES}
    consumed = {
        entry[0]
        for cls in pack.NODE_CLASS_MAPPINGS.values()
        for entry in cls.INPUT_TYPES()["required"].values()
        if isinstance(entry[0], str) and entry[0].isupper() and entry[0] not in ("INT", "FLOAT", "STRING")
    }
    assert "QAGAN_MODEL" in produced and "QAGAN_MODEL" in consumed
    assert consumed <= produced | {"IMAGE"}


def test_import_is_cheap_and_relative() -> None:
    """A fresh interpreter imports the pack under a hyphenated name without loading models."""
    code = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location({PACK_NAME!r}, {str(ROOT / "__init__.py")!r},
    submodule_search_locations=[{str(ROOT)!r}])
mod = importlib.util.module_from_spec(spec); sys.modules[spec.name] = mod; spec.loader.exec_module(mod)
assert len(mod.NODE_CLASS_MAPPINGS) == 7
assert "torchvision" not in sys.modules, "torchvision imported at start-up"
assert "qagan_core" not in sys.modules, "absolute import of qagan_core"
cache = sys.modules[{PACK_NAME!r} + ".nodes.model_nodes"].MODEL_CACHE
assert len(cache) == 0
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/", timeout=120)


def test_packaging() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    comfy = meta["tool"]["comfy"]
    for key in ("PublisherId", "DisplayName", "Icon", "requires-comfyui"):
        assert key in comfy
    requirements = [
        line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    provided_by_comfyui = {"torch", "torchvision", "numpy", "pillow", "safetensors"}
    names = [r.split("=")[0].split(">")[0].split("<")[0].strip().lower() for r in requirements]
    assert not set(names) & provided_by_comfyui
