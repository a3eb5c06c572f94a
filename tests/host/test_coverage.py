"""Level 'coverage': every node the host registers for the pack is used by a shipped workflow,
and every node a shipped workflow uses exists in the host."""

from __future__ import annotations

import json

from host_client import PACK_DIR_NAME, ROOT, Server

WORKFLOWS = sorted((ROOT / "workflows").rglob("*.json"))


def _types(path) -> set[str]:
    data = json.loads(path.read_text())
    if path.name.endswith(".api.json"):
        return {node["class_type"] for node in data.values()}
    return {node["type"] for node in data["nodes"]}


def test_every_registered_node_is_in_a_shipped_workflow(comfyui: Server) -> None:
    info = comfyui.get("/object_info")
    ours = {name for name, node in info.items() if node["python_module"] == f"custom_nodes.{PACK_DIR_NAME}"}
    assert len(ours) >= 7
    api = set().union(*(_types(p) for p in WORKFLOWS if p.name.endswith(".api.json")))
    ui = set().union(*(_types(p) for p in WORKFLOWS if not p.name.endswith(".api.json")))
    assert ours - api == set(), "registered but in no API workflow"
    assert ours - ui == set(), "registered but in no UI workflow"
    assert (api | ui) - set(info) == set(), "used by a workflow but unknown to the host"
