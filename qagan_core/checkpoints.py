"""Safe, atomic checkpoints in safetensors format (no pickle anywhere).

Two kinds of file, told apart by the ``format`` metadata entry:

- an *enhancement model* (``qagan-model``): G_H and G_L weights, the
  architecture config, the encoder identity (kind, source, fingerprint) and
  training metadata. The frozen encoder is not stored.
- a *training state* (``qagan-training-state``): all four networks, both
  optimizers, the step, the training settings and RNG states, for exact resume
  (``TrainingState``, written by ``save_training_state`` and read back by
  ``read_training_state``; the trainer decides what goes in and restores it).

Files are written to a temporary file in the same folder and renamed, so an
interrupted save never leaves a corrupt file behind.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save

from .encoder import EncoderIdentity, VGGEncoder, resolve_encoder
from .errors import EncoderWeightsError, ModelFileError
from .files import atomic_write_bytes
from .model.config import ARCH_NAME, ModelConfig
from .model.qagan import QAGAN

MODEL_FORMAT = "qagan-model"
STATE_FORMAT = "qagan-training-state"
FORMAT_VERSION = "1"


def _prefixed(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v.detach().cpu().contiguous().clone() for k, v in state.items()}


def _unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    start = prefix + "."
    return {k[len(start) :]: v for k, v in tensors.items() if k.startswith(start)}


def optimizer_tensors(prefix: str, state: dict[int, dict[str, Any]]) -> dict[str, torch.Tensor]:
    """A torch optimizer's per-parameter ``state`` as tensors named ``prefix.<param>.<field>``."""
    return {f"{prefix}.{pid}.{key}": torch.as_tensor(value).detach().cpu().clone()
            for pid, pstate in state.items() for key, value in pstate.items()}


def optimizer_param_state(
    prefix: str, tensors: dict[str, torch.Tensor]
) -> dict[int, dict[str, torch.Tensor]]:
    """The per-parameter state ``optimizer_tensors`` wrote (ValueError for a malformed name)."""
    per_param: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in _unprefixed(prefix, tensors).items():
        pid, field_name = key.split(".", 1)
        per_param.setdefault(int(pid), {})[field_name] = value
    return per_param


def write_safetensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], meta: dict) -> Path:
    """Serialise and write atomically; ``meta`` values are JSON-encoded unless strings."""
    strmeta = {k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}
    path = Path(path)
    atomic_write_bytes(path, save(tensors, metadata=strmeta))
    return path


def read_safetensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read tensors and metadata; any damage becomes a ``ModelFileError``."""
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a model file")
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            meta = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:
        raise ModelFileError(
            f"cannot read {path}: not a safetensors file, or truncated/corrupt ({exc})"
        ) from exc
    return tensors, meta


def _check_format(path: Path, meta: dict[str, str], wanted: tuple[str, ...]) -> str:
    fmt = meta.get("format")
    if fmt not in (MODEL_FORMAT, STATE_FORMAT):
        raise ModelFileError(
            f"{path} is not a QAGAN model (it is a safetensors file without QAGAN metadata, "
            "e.g. another kind of model)"
        )
    if meta.get("arch") != ARCH_NAME:
        raise ModelFileError(f"{path} was made for architecture {meta.get('arch')!r}, not {ARCH_NAME!r}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has format version {meta.get('format_version')!r}; this package reads "
            f"version {FORMAT_VERSION}"
        )
    if fmt not in wanted:
        if fmt == MODEL_FORMAT:
            raise ModelFileError(
                f"{path} is an enhancement model, not a training state: resuming needs the "
                "training-state file (*.state.safetensors) saved during training"
            )
        raise ModelFileError(f"{path} is a {fmt} file, expected {' or '.join(wanted)}")
    return fmt


def load_weights(module: torch.nn.Module, state: dict[str, torch.Tensor], what: str, path: Path) -> None:
    """Load ``state`` (read from ``path``) into ``module`` after checking it fits: the same keys and
    shapes (else: another architecture), the same dtypes and finite values (else: damaged).
    ``what`` names the network in the messages (``"G_H"``)."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        detail = (missing or unexpected or wrong)[:3]
        raise ModelFileError(
            f"{path} was trained with another architecture: {what} weights do not match "
            f"(e.g. {detail})"
        )
    for key, value in state.items():
        if value.dtype != own[key].dtype:
            raise ModelFileError(f"{path} is damaged: {what} weight {key!r} is {value.dtype}, "
                                 f"expected {own[key].dtype}")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ModelFileError(f"{path} is damaged: {what} weight {key!r} holds NaN or inf")
    module.load_state_dict(state)


def encoder_for(
    identity: dict[str, str],
    models_dir: str | os.PathLike | None = None,
    encoder_weights: str | None = None,
    allow_download: bool = True,
) -> VGGEncoder:
    """Rebuild the encoder a model was trained with and check its fingerprint."""
    kind = identity.get("kind", "")
    if encoder_weights is None:
        encoder_weights = "random" if kind == "random" else "pretrained"
        if kind == "file" and models_dir is not None:
            candidate = Path(models_dir) / identity.get("source", "")
            if candidate.is_file():
                encoder_weights = str(candidate)
    try:
        encoder = resolve_encoder(encoder_weights, models_dir, allow_download)
    except EncoderWeightsError as exc:
        name = identity.get("source", "vgg19-dcbb9e9d.pth")
        raise EncoderWeightsError(
            f"this model needs the VGG-19 encoder weights it was trained with ({name}, "
            f"fingerprint {identity.get('fingerprint')}): {exc}"
        ) from exc
    want = identity.get("fingerprint")
    if want and encoder.identity.fingerprint != want:
        raise EncoderWeightsError(
            f"the encoder weights found ({encoder.identity.source}, fingerprint "
            f"{encoder.identity.fingerprint}) are not the ones this model was trained with "
            f"({identity.get('source')}, fingerprint {want}); put that file into the models folder"
        )
    return encoder


STATE_SUFFIX = ".state.safetensors"


def state_path_for(model_path: str | os.PathLike) -> Path:
    """The training state that belongs to a model: ``name.safetensors`` → ``name.state.safetensors``."""
    path = Path(model_path)
    name = path.name
    if name.endswith(STATE_SUFFIX):
        return path
    stem = name[: -len(".safetensors")] if name.endswith(".safetensors") else name
    return path.with_name(stem + STATE_SUFFIX)


def find_resume_state(model_path: str | os.PathLike) -> Path | None:
    """The training state saved next to ``model_path`` if there is one, else None."""
    state = state_path_for(model_path)
    return state if state.is_file() else None


def identity_dict(identity: EncoderIdentity) -> dict[str, str]:
    return {"kind": identity.kind, "source": identity.source, "fingerprint": identity.fingerprint}


def save_model(model: QAGAN, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write an enhancement model (G_H + G_L + metadata) atomically."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise ModelFileError(f"not overwriting existing file {path}")
    tensors = {**_prefixed("g_h", model.g_h.state_dict()), **_prefixed("g_l", model.g_l.state_dict())}
    meta = {
        "format": MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "arch": ARCH_NAME,
        "config": model.config.to_dict(),
        "encoder": identity_dict(model.encoder.identity),
        "random_encoder": "true" if model.encoder.identity.is_random else "false",
        "training": model.info.get("training", {}),
    }
    return write_safetensors(path, tensors, meta)


def _json(meta: dict[str, str], key: str, path: Path) -> Any:
    try:
        return json.loads(meta[key])
    except (KeyError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path} has damaged QAGAN metadata ({key!r})") from exc


def load_model(
    path: str | os.PathLike,
    models_dir: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    encoder_weights: str | None = None,
    allow_download: bool = True,
    encoder: VGGEncoder | None = None,
) -> QAGAN:
    """Load an enhancement model (or the generators a training state exports), ready for inference.

    The encoder is rebuilt from the identity recorded in the file: the seeded
    random encoder, or the pretrained weights found in ``models_dir`` /
    torchvision's cache; ``encoder_weights`` names a file explicitly. Pass an
    already-built ``encoder`` to share one between models (its fingerprint is checked).
    """
    path = Path(path)
    tensors, meta = read_safetensors(path)
    fmt = _check_format(path, meta, (MODEL_FORMAT, STATE_FORMAT))
    config = ModelConfig.from_dict(_json(meta, "config", path))
    identity = _json(meta, "encoder", path)
    if encoder is None or encoder.identity.fingerprint != identity.get("fingerprint"):
        encoder = encoder_for(identity, models_dir, encoder_weights, allow_download)
    info = {"training": _json(meta, "training", path), "source": str(path)}
    model = QAGAN(config, encoder, info)
    prefix = ""  # a state gives the generators its model file gets: averaged, best, else current
    if fmt == STATE_FORMAT:
        kept = [k for k in ("average", "best") if any(t.startswith(f"{k}.g_h.") for t in tensors)]
        prefix = f"{kept[0]}." if kept else ""
    load_weights(model.g_h, _unprefixed(prefix + "g_h", tensors), "G_H", path)
    load_weights(model.g_l, _unprefixed(prefix + "g_l", tensors), "G_L", path)
    model.eval()
    if device is not None:
        model.to(device)
    return model


def read_model_info(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata of a model or training-state file, without building networks."""
    path = Path(path)
    _, meta = read_safetensors(path)
    fmt = _check_format(path, meta, (MODEL_FORMAT, STATE_FORMAT))
    out: dict[str, Any] = {"format": fmt}
    for key in ("config", "encoder", "training"):
        if key in meta:
            out[key] = _json(meta, key, path)
    if "config" in out:
        ModelConfig.from_dict(out["config"])  # the same checks as loading
    return out


# ------------------------------------------------------------ training state
NETWORKS = ("g_h", "g_l", "d_h", "d_l")  # the networks a training state holds, by key prefix
OPTIMIZERS = ("opt_g", "opt_d")
HISTORY_BUFFERS = ("history_h", "history_l")
HISTORY_KEPT = 10000  # loss-history entries a state keeps (the latest)


@dataclass
class TrainingState:
    """What a training-state file holds, part by part (the trainer fills it and restores from it).

    ``networks``: the state dicts of ``NETWORKS``; ``optimizers``: torch optimizer state dicts
    (``{"state", "param_groups"}``) of ``OPTIMIZERS``; ``history_images``: the image-history
    buffers (``HISTORY_BUFFERS``, None when empty); ``color``: the colour head's training
    tensors, keys starting with ``color.``; ``best``: ``{"score", "step", "g_h", "g_l"}`` of the
    best generators so far, or None; ``average``: ``{"steps", "g_h", "g_l"}``, the generators'
    weights averaged over that many steps, or None; ``model_config`` / ``train_config``: the
    settings as dicts;
    ``encoder``: the encoder identity (``identity_dict``); ``training``: the model's training
    record; ``rng_python``: ``random.Random.getstate()``; ``scaler``: the AMP gradient scaler's
    state dict or None; ``history``: the loss history (the latest ``HISTORY_KEPT`` are saved).
    ``source``: the file it was read from (None for one built to be saved).
    """

    networks: dict[str, dict[str, torch.Tensor]]
    optimizers: dict[str, dict[str, Any]]
    model_config: dict[str, Any]
    encoder: dict[str, str]
    training: dict[str, Any]
    train_config: dict[str, Any]
    step: int
    elapsed_s: float
    rng_python: tuple
    history: list[dict[str, float]]
    scaler: dict[str, Any] | None = None
    history_images: dict[str, torch.Tensor | None] = field(default_factory=dict)
    color: dict[str, torch.Tensor] = field(default_factory=dict)
    best: dict[str, Any] | None = None
    average: dict[str, Any] | None = None
    source: Path | None = None


def save_training_state(path: str | os.PathLike, state: TrainingState) -> Path:
    """Write a training state atomically (``qagan-training-state``, version ``FORMAT_VERSION``).

    Layout: ``g_h.*``, ``g_l.*``, ``d_h.*``, ``d_l.*`` network weights; ``opt_g.<param>.<field>``
    and ``opt_d.<param>.<field>`` optimizer tensors with the param groups in the ``param_groups``
    metadata; ``history_h`` / ``history_l`` image stacks; the ``color.*`` tensors;
    ``best.g_h.*`` / ``best.g_l.*``; ``average.g_h.*`` / ``average.g_l.*``; everything else in
    JSON metadata.
    """
    tensors: dict[str, torch.Tensor] = {}
    for name in NETWORKS:
        tensors.update(_prefixed(name, state.networks[name]))
    groups = {}
    for name in OPTIMIZERS:
        sd = state.optimizers[name]
        tensors.update(optimizer_tensors(name, sd["state"]))
        groups[name] = [dict(g) for g in sd["param_groups"]]
    for name in HISTORY_BUFFERS:
        images = state.history_images.get(name)
        if images is not None:
            tensors[name] = images
    for key, value in state.color.items():
        if not key.startswith("color."):
            raise ValueError(f"colour-training tensor {key!r} must be named color.*")
        tensors[key] = value
    if state.best is not None:
        tensors.update(_prefixed("best.g_h", state.best["g_h"]))
        tensors.update(_prefixed("best.g_l", state.best["g_l"]))
    if state.average is not None:
        tensors.update(_prefixed("average.g_h", state.average["g_h"]))
        tensors.update(_prefixed("average.g_l", state.average["g_l"]))
    meta = {
        "format": STATE_FORMAT,
        "format_version": FORMAT_VERSION,
        "arch": ARCH_NAME,
        "config": state.model_config,
        "encoder": state.encoder,
        "random_encoder": "true" if state.encoder.get("kind") == "random" else "false",
        "training": state.training,
        "train_config": state.train_config,
        "step": state.step,
        "elapsed_s": state.elapsed_s,
        "scaler": state.scaler,
        "best": {"score": state.best["score"], "step": state.best["step"]} if state.best else None,
        "average": {"steps": state.average["steps"]} if state.average else None,
        "param_groups": groups,
        "rng_python": list(state.rng_python),
        "history": state.history[-HISTORY_KEPT:],
    }
    return write_safetensors(path, tensors, meta)


def _json_or(meta: dict[str, str], key: str, default: Any, path: Path) -> Any:
    """A JSON metadata value, or ``default`` for states saved before the entry existed."""
    return _json(meta, key, path) if key in meta else default


def read_training_state(path: str | os.PathLike) -> TrainingState:
    """Read and check a training state saved by ``save_training_state`` (or by an earlier
    version of it: entries added later get the values those states were trained with).

    Raises ``ModelFileError`` for anything that is not a readable training state of this
    format version; the network weights are checked against the networks by ``load_weights``.
    """
    path = Path(path)
    tensors, meta = read_safetensors(path)
    _check_format(path, meta, (STATE_FORMAT,))
    networks = {name: _unprefixed(name, tensors) for name in NETWORKS}
    groups = _json(meta, "param_groups", path)
    optimizers: dict[str, dict[str, Any]] = {}
    for name in OPTIMIZERS:
        try:
            per_param = optimizer_param_state(name, tensors)
            param_groups = [{**g, "betas": tuple(g["betas"])} for g in groups[name]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{path} has a damaged {name} optimizer state ({exc})") from exc
        optimizers[name] = {"state": per_param, "param_groups": param_groups}
    scaler = _json_or(meta, "scaler", None, path)
    if scaler is None and "scaler.scale" in tensors:  # states saved before the full record
        scaler = {"scale": float(tensors["scaler.scale"][0]), "growth_factor": 2.0,
                  "backoff_factor": 0.5, "growth_interval": 2000, "_growth_tracker": 0}
    rng = _json(meta, "rng_python", path)
    try:
        rng_python = (rng[0], tuple(rng[1]), rng[2])
        step = int(_json(meta, "step", path))
        elapsed_s = float(_json_or(meta, "elapsed_s", 0.0, path))
    except (IndexError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path} has damaged QAGAN metadata ({exc})") from exc
    best = _json_or(meta, "best", None, path)
    if best is not None:
        best = {**best, "g_h": _unprefixed("best.g_h", tensors), "g_l": _unprefixed("best.g_l", tensors)}
    average = _json_or(meta, "average", None, path)
    if average is not None:
        average = {**average, "g_h": _unprefixed("average.g_h", tensors),
                   "g_l": _unprefixed("average.g_l", tensors)}
    color = {k: v for k, v in tensors.items() if k.startswith("color.")}
    try:
        optimizer_param_state("color.opt", color)  # restored by the Trainer: refuse damage here
    except ValueError as exc:
        raise ModelFileError(f"{path} has a damaged colour-head optimizer state ({exc})") from exc
    return TrainingState(
        networks=networks,
        optimizers=optimizers,
        model_config=_json(meta, "config", path),
        encoder=_json(meta, "encoder", path),
        training=_json(meta, "training", path),
        train_config=_json(meta, "train_config", path),
        step=step,
        elapsed_s=elapsed_s,
        rng_python=rng_python,
        history=list(_json(meta, "history", path)),
        scaler=scaler,
        history_images={name: tensors.get(name) for name in HISTORY_BUFFERS},
        color=color,
        best=best,
        average=average,
        source=path,
    )
