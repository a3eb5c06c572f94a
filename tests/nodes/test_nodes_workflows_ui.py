"""Each UI workflow (drag-and-drop file) matches its API twin and the nodes' inputs."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
from conftest import ROOT
from qagan_workflow_runner import CORE_STANDINS, check_widget

WORKFLOWS = ROOT / "workflows"
UI_FILES = sorted(WORKFLOWS.glob("*.json"))
WIDGET_KINDS = ("INT", "FLOAT", "STRING", "BOOLEAN")


def widget_names(cls: type) -> list[tuple[str, tuple, bool]]:
    """(name, spec, has_control_value) of the inputs the frontend shows as widgets, in order."""
    spec = cls.INPUT_TYPES()
    out = []
    for name, entry in {**spec.get("required", {}), **spec.get("optional", {})}.items():
        kind = entry[0]
        options = entry[1] if len(entry) > 1 else {}
        if isinstance(kind, list) or kind in WIDGET_KINDS:
            seed_like = kind == "INT" and name in ("seed", "noise_seed")
            control = bool(options.get("control_after_generate", seed_like))
            out.append((name, entry, control))
    return out


def test_every_api_workflow_has_a_ui_twin() -> None:
    api = {p.name.removesuffix(".api.json") for p in (WORKFLOWS / "api").glob("*.api.json")}
    ui = {p.name.removesuffix(".json") for p in UI_FILES}
    assert api == ui and len(api) >= 4


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.name)
def test_ui_workflow_matches_api(path: Path, pack: ModuleType) -> None:
    ui = json.loads(path.read_text())
    api = json.loads((WORKFLOWS / "api" / f"{path.stem}.api.json").read_text())
    classes = {**CORE_STANDINS, **pack.NODE_CLASS_MAPPINGS}
    nodes = {str(n["id"]): n for n in ui["nodes"]}
    assert set(nodes) == set(api)
    for node_id, node in nodes.items():
        assert node["type"] == api[node_id]["class_type"]
        title = node.get("title") or pack.NODE_DISPLAY_NAME_MAPPINGS.get(node["type"])
        if title is not None:  # core nodes with their default title: display name unknown here
            assert title == api[node_id]["_meta"]["title"], f"node {node_id} title"

    links = {}
    for link_id, origin, origin_slot, target, target_slot, kind in ui["links"]:
        target_node = nodes[str(target)]
        name = target_node["inputs"][target_slot]["name"]
        assert target_node["inputs"][target_slot]["link"] == link_id
        assert nodes[str(origin)]["outputs"][origin_slot]["type"] == kind
        links[(str(target), name)] = [str(origin), origin_slot]
    api_links = {
        (node_id, name): value
        for node_id, node in api.items()
        for name, value in node["inputs"].items()
        if isinstance(value, list)
    }
    assert links == api_links

    for node_id, node in nodes.items():
        values = list(node.get("widgets_values") or [])
        for name, spec, control in widget_names(classes[node["type"]]):
            assert values, f"node {node_id}: no widget value for {name!r}"
            value = values.pop(0)
            if control:
                values.pop(0)
            if (node_id, name) not in links:
                assert value == api[node_id]["inputs"][name], f"node {node_id} {name!r}"
                if node["type"] in pack.NODE_CLASS_MAPPINGS and not isinstance(spec[0], list):
                    check_widget(node_id, name, spec, value)
        if node["type"] in pack.NODE_CLASS_MAPPINGS:
            assert not values, f"node {node_id}: {len(values)} widget value(s) too many"


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.name)
def test_ui_workflow_is_portable(path: Path) -> None:
    """No absolute paths of the machine the file was made on."""
    text = path.read_text()
    checkout_parent = str(Path(__file__).resolve().parents[3]) + "/"
    for marker in (checkout_parent, "/" + "tmp/", "/" + "home/", "C:\\\\"):
        assert marker not in text
