"""Level 'registration': ComfyUI loads the pack cleanly and lists every node as the code declares it."""

from __future__ import annotations

import json
from types import ModuleType

import pytest
from helpers import load_pack
from host_client import PACK_DIR_NAME, Server

# Dropdowns whose choices come from the host's folders (photo folders, model files).
HOST_LISTS = {"low_quality_folder", "high_quality_folder", "input_folder", "model_name", "resume"}


@pytest.fixture(scope="module")
def pack() -> ModuleType:
    return load_pack()


def test_pack_imports_without_error_or_warning(comfyui: Server) -> None:
    log = comfyui.startup_log
    import_lines = [line for line in log.splitlines() if line.rstrip().endswith(f"/{PACK_DIR_NAME}")]
    assert import_lines, "the pack is missing from 'Import times for custom nodes'"
    assert not any("IMPORT FAILED" in line for line in import_lines), import_lines
    trouble = [line for line in log.splitlines()
               if any(word in line.lower() for word in ("warn", "error", "traceback", "fail", "exception"))]
    assert trouble == [], "warnings or errors at startup"


def _normalised(value: object) -> object:
    return json.loads(json.dumps(value))


def test_object_info_matches_the_declarations(comfyui: Server, pack: ModuleType) -> None:
    info = comfyui.get("/object_info")
    ours = {name for name, node in info.items() if node["python_module"] == f"custom_nodes.{PACK_DIR_NAME}"}
    assert ours == set(pack.NODE_CLASS_MAPPINGS)
    for name, cls in pack.NODE_CLASS_MAPPINGS.items():
        node = info[name]
        assert node["display_name"] == pack.NODE_DISPLAY_NAME_MAPPINGS[name]
        assert node["category"] == cls.CATEGORY == "image/enhance/QAGAN"
        assert node["description"] == cls.DESCRIPTION and cls.DESCRIPTION
        assert node["output"] == list(cls.RETURN_TYPES)
        assert node["output_name"] == list(cls.RETURN_NAMES)
        assert node["output_tooltips"] == list(cls.OUTPUT_TOOLTIPS)
        assert node["output_node"] == getattr(cls, "OUTPUT_NODE", False)
        declared = cls.INPUT_TYPES()
        for group in ("required", "optional"):
            assert node["input_order"].get(group, []) == list(declared.get(group, {})), f"{name} {group}"
            for input_name, spec in declared.get(group, {}).items():
                kind, options = _normalised(spec[0]), _normalised(spec[1] if len(spec) > 1 else {})
                host_kind, host_options = node["input"][group][input_name]
                where = f"{name}.{input_name}"
                assert options.get("tooltip"), f"{where} has no tooltip"
                if isinstance(kind, list):
                    assert isinstance(host_kind, list) and all(isinstance(v, str) for v in host_kind), where
                    if input_name not in HOST_LISTS:
                        assert host_kind == kind, where
                    options.pop("default", None), host_options.pop("default", None)
                else:
                    assert host_kind == kind, where
                assert host_options == options, where


def test_host_lists_come_from_the_host_folders(comfyui: Server) -> None:
    info = comfyui.get("/object_info")
    folders = info["QAGANTrain"]["input"]["required"]["low_quality_folder"][0]
    assert {"qagan_low", "qagan_high", "qagan_broken"} <= set(folders)
    assert "3d" not in folders  # ComfyUI's own input/3d folder holds no photos
    models = info["QAGANLoadModel"]["input"]["required"]["model_name"][0]
    assert "corrupt.safetensors" in models
    assert not [m for m in models if m.endswith(".state.safetensors")]
