"""Set up the real ComfyUI host for the host tests, outside the repository.

Unpacks the ComfyUI source archive (default ``../shared/comfyui/ComfyUI-0.8.0.tar.gz``
beside the repository, or ``QAGAN_COMFYUI_ARCHIVE``) into a cache folder (default
``~/.cache/qagan-host``, or ``QAGAN_HOST_CACHE``), builds ComfyUI's own virtual
environment there with its pinned requirements, and gets the frontend test tools:
Debian's ``chromium`` (apt) and ``playwright-core`` (npm). Every step is skipped
when already done, so a second run costs a few seconds.

ComfyUI gets its own venv (torch 2.11, the newest torch/torchvision/torchaudio trio
its requirements install here) while the pack's own tests use the README's venv
(torch 2.15): the host is tested with the torch users get inside ComfyUI, the
library with the one its quick start installs.

Run alone: ``python tests/host/comfyui_install.py`` (prints the paths it set up).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ARCHIVE = ROOT.parent / "shared" / "comfyui" / "ComfyUI-0.8.0.tar.gz"
# The trio found to install and run with ComfyUI 0.8.0 here (see the archive's README).
TORCH_PINS = ("torch==2.11.0", "torchvision==0.26.0", "torchaudio==2.11.0")
CONSTRAINTS = (*TORCH_PINS, "transformers<5")
EXTRA_REQUIREMENTS = ("requests",)  # imported by ComfyUI but not in its requirements.txt
PLAYWRIGHT = "playwright-core@1.65.1"
CHROMIUM = Path("/usr/bin/chromium")


class HostSetupError(RuntimeError):
    """A step of the host setup failed; the message names the step and its output."""


@dataclass(frozen=True)
class Host:
    comfy_dir: Path  # ComfyUI's source tree (main.py)
    python: Path  # the Python of ComfyUI's venv
    node_modules: Path | None  # holds playwright-core; None when the frontend tools are absent
    chromium: Path | None


def archive_path() -> Path:
    return Path(os.environ.get("QAGAN_COMFYUI_ARCHIVE", DEFAULT_ARCHIVE))


def cache_dir() -> Path:
    return Path(os.environ.get("QAGAN_HOST_CACHE", Path.home() / ".cache" / "qagan-host"))


def _run(step: str, cmd: list[str], **kwargs) -> None:
    print(f"[host setup] {step}", flush=True)
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)
    if done.returncode != 0:
        raise HostSetupError(f"{step} failed (exit {done.returncode}):\n{done.stdout[-4000:]}")


def _fingerprint(archive: Path) -> str:
    stat = archive.stat()
    return hashlib.sha256(f"{archive.name}:{stat.st_size}:{CONSTRAINTS}".encode()).hexdigest()[:16]


def _unpack(archive: Path, cache: Path) -> Path:
    with tarfile.open(archive) as tar:
        top = tar.getnames()[0].split("/")[0]
        target = cache / top
        if (target / "main.py").is_file():
            return target
        cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=cache))
        print(f"[host setup] unpacking {archive.name}", flush=True)
        tar.extractall(staging, filter="data")
    (staging / top).rename(target)
    shutil.rmtree(staging)
    return target


def _venv(comfy_dir: Path, cache: Path, fingerprint: str) -> Path:
    venv = cache / "venv"
    python = venv / "bin" / "python"
    marker = venv / ".qagan-ready"
    if marker.is_file() and marker.read_text() == fingerprint and python.is_file():
        return python
    if venv.exists():
        shutil.rmtree(venv)
    _run("creating ComfyUI's venv", [sys.executable, "-m", "venv", str(venv)])
    pip = [str(python), "-m", "pip", "install", "-q"]
    _run("upgrading pip", [*pip, "--upgrade", "pip"])
    _run(f"installing {' '.join(TORCH_PINS)}", [*pip, *TORCH_PINS])
    constraints = cache / "constraints.txt"
    constraints.write_text("\n".join(CONSTRAINTS) + "\n")
    _run(
        "installing ComfyUI's requirements",
        [*pip, "-r", str(comfy_dir / "requirements.txt"), "-c", str(constraints), *EXTRA_REQUIREMENTS],
    )
    marker.write_text(fingerprint)
    return python


def _chromium() -> Path | None:
    if CHROMIUM.is_file():
        return CHROMIUM
    if shutil.which("apt-get") and os.geteuid() == 0:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            _run("installing Debian's chromium", ["apt-get", "install", "-y", "-q", "chromium"], env=env)
        except HostSetupError:  # package lists missing or stale on a fresh machine
            _run("updating Debian's package lists", ["apt-get", "update", "-q"], env=env)
            _run("installing Debian's chromium", ["apt-get", "install", "-y", "-q", "chromium"], env=env)
        return CHROMIUM if CHROMIUM.is_file() else None
    return None


def _playwright(cache: Path) -> Path | None:
    prefix = cache / "node"
    modules = prefix / "node_modules"
    if (modules / "playwright-core" / "package.json").is_file():
        return modules
    npm = shutil.which("npm")
    if npm is None:
        return None
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "package.json").write_text(json.dumps({"name": "qagan-host-tools", "private": True}))
    _run(f"installing {PLAYWRIGHT}", [npm, "install", "--silent", "--no-audit", "--no-fund", PLAYWRIGHT],
         cwd=prefix, env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"})
    return modules


def ensure_host() -> Host:
    """The host to test: ``QAGAN_COMFYUI_DIR``/``QAGAN_COMFYUI_PYTHON`` if set, else set up
    from the archive (FileNotFoundError when it is absent)."""
    cache = cache_dir()
    if os.environ.get("QAGAN_COMFYUI_DIR"):
        comfy_dir = Path(os.environ["QAGAN_COMFYUI_DIR"])
        python = Path(os.environ.get("QAGAN_COMFYUI_PYTHON", sys.executable))
    else:
        archive = archive_path()
        if not archive.is_file():
            raise FileNotFoundError(archive)
        comfy_dir = _unpack(archive, cache)
        python = _venv(comfy_dir, cache, _fingerprint(archive))
    return Host(comfy_dir, python, _playwright(cache), _chromium())


if __name__ == "__main__":
    try:
        host = ensure_host()
    except FileNotFoundError as missing:
        sys.exit(f"ComfyUI archive not found: {missing} (set QAGAN_COMFYUI_ARCHIVE)")
    except HostSetupError as error:
        sys.exit(str(error))
    print(f"ComfyUI: {host.comfy_dir}\nPython:  {host.python}\n"
          f"playwright-core: {host.node_modules}\nchromium: {host.chromium}")
