"""Level 'frontend': every UI workflow loads in ComfyUI's real frontend (headless Chromium) with
no missing-node dialog and no console error; one is queued from the UI and completes; the pack's
templates show in the template browser. Screenshots go to QAGAN_CI_OUTPUT (default
.ci/output, git-ignored) under frontend/."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from comfyui_install import Host
from host_client import PACK_DIR_NAME, ROOT, TINY_TRAIN, Server

UI_FILES = sorted((ROOT / "workflows").glob("*.json"))
QUEUED = "train_then_enhance"
# What a brand-new ComfyUI profile asks for and does not have yet: the host's, not the pack's.
FRESH_PROFILE_404 = {
    "/user.css", "/favicon.ico", "/api/userdata/user.css", "/api/userdata/comfy.templates.json",
    "/api/userdata?dir=workflows", "/api/userdata?dir=subgraphs",
}


def _host_noise(url: str) -> bool:
    parts = urlsplit(url)
    query = parts.query.split("&")[0]
    return parts.path in FRESH_PROFILE_404 or f"{parts.path}?{query}" in FRESH_PROFILE_404


def _problems(page: dict) -> list:
    failed = [f"{r['status']} {r['url']}" for r in page["failed"] if not _host_noise(r["url"])]
    console = [c["text"] for c in page["console"]
               if not (c["text"].startswith("Failed to load resource") and _host_noise(c["url"]))]
    return failed + console


@pytest.fixture(scope="module")
def frontend(host: Host, comfyui: Server, my_look: Path) -> dict:
    if host.chromium is None or host.node_modules is None:
        pytest.fail("the frontend tests need Debian's chromium (apt-get install chromium) and npm")
    out = Path(os.environ.get("QAGAN_CI_OUTPUT", ROOT / ".ci" / "output")) / "frontend"
    out.mkdir(parents=True, exist_ok=True)
    status, _ = comfyui.post("/api/settings/Comfy.TutorialCompleted", True)  # no first-run dialog
    assert status == 200
    plan = {
        "url": comfyui.url, "chromium": str(host.chromium), "outDir": str(out),
        "workflows": [{"name": p.stem, "path": str(p)} for p in UI_FILES],
        # a model of its own: one trained before (test_execution) would resume with nothing to do
        "queue": {"name": QUEUED, "widgets": {"QAGANTrain": {**TINY_TRAIN, "model_name": "ui_look"}}},
        "templatesCategory": PACK_DIR_NAME,
    }
    plan_path = out / "plan.json"
    plan_path.write_text(json.dumps(plan, indent=2))
    done = subprocess.run(["node", str(Path(__file__).with_name("frontend.cjs")), str(plan_path)],
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, "NODE_PATH": str(host.node_modules)})
    assert done.returncode == 0, f"frontend script failed:\n{done.stderr[-3000:]}"
    report = json.loads(done.stdout.strip().splitlines()[-1])
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report


@pytest.mark.parametrize("name", [p.stem for p in UI_FILES])
def test_ui_workflow_loads_cleanly(frontend: dict, name: str) -> None:
    [page] = [w for w in frontend["workflows"] if w["name"] == name]
    assert page["dialogsBefore"] == [] and page["dialogs"] == [], page["dialogs"]  # e.g. missing nodes
    assert page["unknownNodes"] == []
    assert page["nodes"] == len(json.loads((ROOT / "workflows" / f"{name}.json").read_text())["nodes"])
    assert _problems(page) == []
    assert Path(page["screenshot"]).stat().st_size > 10_000


def test_a_workflow_queued_from_the_ui_completes(frontend: dict, comfyui: Server) -> None:
    [page] = [w for w in frontend["workflows"] if w["name"] == QUEUED]
    queued = page["queued"]
    assert queued["unknownWidgets"] == [] and queued["reply"]["node_errors"] == {}
    assert queued["status"] == "success"
    entry = comfyui.get(f"/history/{queued['reply']['prompt_id']}")[queued["reply"]["prompt_id"]]
    assert entry["prompt"][2]["1"]["inputs"]["steps"] == TINY_TRAIN["steps"]  # the widgets set in the UI
    assert entry["outputs"]["4"]["images"]
    train_texts = [t["text"] for t in page["texts"] if t["node"] == "1"]  # shown on QAGAN Train
    assert any(t.startswith("step 2/2 · ") and t.endswith(" left") for t in train_texts), train_texts
    assert train_texts[-1].startswith("done: step 2 in "), train_texts


def test_pack_templates_show_in_the_template_browser(frontend: dict) -> None:
    templates = frontend["templates"]
    assert _problems(templates) == []  # their thumbnails (workflows/NAME.jpg) load
    [dialog] = templates["dialogs"]
    for path in UI_FILES:
        assert path.stem in dialog
    assert ".api" not in dialog  # the API files (workflows/api/) are not offered as templates
