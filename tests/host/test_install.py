"""Level 'install': the pack sits in custom_nodes as a clone and needs nothing ComfyUI lacks."""

from __future__ import annotations

import json
import subprocess

import tomllib
from comfyui_install import Host
from host_client import PACK_DIR_NAME, ROOT, Server, tracked_files

# Run in ComfyUI's Python: is each requirement of the pack installed there, at a version it accepts?
CHECK_REQUIREMENTS = r"""
import json, sys
from importlib.metadata import PackageNotFoundError, version
from packaging.requirements import Requirement
missing = []
for line in json.loads(sys.argv[1]):
    req = Requirement(line)
    try:
        found = version(req.name)
    except PackageNotFoundError:
        missing.append(f"{line}: not installed")
        continue
    if not req.specifier.contains(found, prereleases=True):
        missing.append(f"{line}: {found} installed")
print(json.dumps(missing))
"""


def test_pack_folder_holds_the_clone_and_nothing_written_by_running(comfyui: Server) -> None:
    """Runs after the execution tests: the pack keeps models, outputs and caches out of its folder."""
    pack = comfyui.base / "custom_nodes" / PACK_DIR_NAME
    assert (pack / "__init__.py").is_file()
    copied = sorted(p.relative_to(pack).as_posix() for p in pack.rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts)
    assert copied == tracked_files()
    assert not any(name.startswith((".venv/", "benchmarks/out/")) for name in copied)


def test_pack_adds_no_requirement(host: Host) -> None:
    # ComfyUI-Manager and `comfy node install` run these; the pack must need neither.
    assert not (ROOT / "install.py").exists()
    if (ROOT / "requirements.txt").exists():
        lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
        assert [line for line in lines if line] == [], "requirements.txt would install something"
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    done = subprocess.run([str(host.python), "-c", CHECK_REQUIREMENTS, json.dumps(deps)],
                          capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [], "ComfyUI's venv lacks what the pack requires"
