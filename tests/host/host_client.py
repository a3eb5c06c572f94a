"""A running ComfyUI server and the few HTTP calls the host tests make to it."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PACK_DIR_NAME = "comfyui-qagan"  # the folder name in custom_nodes
RANDOM_ENCODER = "random (for testing only - poor results)"
# Offline-sized settings for QAGAN Train: random encoder, tiny crops, a few steps, no time budget.
TINY_TRAIN = {
    "steps": 2, "batch_size": 1, "crop_size": 32, "train_size": 32, "save_every": 0,
    "preview_every": 1, "encoder": RANDOM_ENCODER, "minutes": 0.0,
}


def tracked_files() -> list[str]:
    """The working tree's files a clone would hold (tracked or not ignored)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, capture_output=True, check=True).stdout.decode()
    return sorted(name for name in out.split("\0") if name and (ROOT / name).is_file())


def api_workflow(name: str, **train: Any) -> dict:
    """workflows/NAME.api.json with QAGAN Train's inputs set to TINY_TRAIN (updated by ``train``)."""
    prompt = json.loads((ROOT / "workflows" / "api" / f"{name}.api.json").read_text())
    for node in prompt.values():
        if node["class_type"] == "QAGANTrain":
            node["inputs"].update({**TINY_TRAIN, **train})
    return prompt


@dataclass
class Server:
    url: str
    base: Path  # ComfyUI's --base-directory: custom_nodes, input, output, models, user
    log: Path
    startup_log: str  # the log up to the first answer of /system_stats

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=60) as resp:
            return json.loads(resp.read())

    def post(self, path: str, data: dict) -> tuple[int, Any]:
        """(HTTP status, JSON reply); an error status is returned, not raised."""
        req = urllib.request.Request(self.url + path, json.dumps(data).encode(),
                                     {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                body = resp.read()
                return resp.status, json.loads(body) if body else None
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def queue(self, prompt: dict) -> str:
        status, reply = self.post("/prompt", {"prompt": prompt, "client_id": "qagan-host-tests"})
        assert status == 200 and not reply.get("node_errors"), reply
        return reply["prompt_id"]

    def wait(self, prompt_id: str, timeout: float = 600) -> dict:
        """The /history entry of a finished prompt."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            history = self.get(f"/history/{prompt_id}")
            entry = history.get(prompt_id)
            if entry and entry["status"].get("completed") is not None:
                return entry
            time.sleep(0.5)
        raise AssertionError(f"prompt {prompt_id} did not finish within {timeout} s")

    def run(self, prompt: dict) -> dict:
        """Queue, wait and check success; the /history entry."""
        entry = self.wait(self.queue(prompt))
        assert entry["status"]["status_str"] == "success", json.dumps(entry["status"])[-3000:]
        return entry

    def wait_running(self, prompt_id: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = self.get("/queue")["queue_running"]
            if any(item[1] == prompt_id for item in running):
                return
            time.sleep(0.2)
        raise AssertionError(f"prompt {prompt_id} did not start within {timeout} s")


def messages(entry: dict, kind: str) -> list[dict]:
    """The payloads of one kind of status message ('execution_cached', 'execution_error', ...)."""
    return [data for name, data in entry["status"]["messages"] if name == kind]


def cached_nodes(entry: dict) -> set[str]:
    return {node for data in messages(entry, "execution_cached") for node in data["nodes"]}
