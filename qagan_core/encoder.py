"""The frozen VGG-19 encoder E (paper §3.2, Fig. 4).

``VGGEncoder`` is torchvision's VGG-19 ``features`` up to relu5_1, returning
relu1_1, relu2_1, relu3_1, relu4_1 and relu5_1. ImageNet normalisation happens
inside, so callers pass RGB in 0..1. It is never trained and never saved inside
an enhancement model; models record the encoder's identity and fingerprint.

Weights are resolved in this order (``resolve_encoder``):
1. an explicit file (``.pth`` state dict in torchvision layout, or ``.safetensors``);
2. a models folder named by the caller (files in ``ENCODER_FILE_NAMES``);
3. torchvision's cache / download of ``VGG19_Weights.IMAGENET1K_V1``.
A randomly initialised encoder is built only when asked for with ``"random"``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .errors import EncoderWeightsError, EncoderWeightsMissing

# (start, stop) indices into torchvision's vgg19().features for each relu_X_1.
VGG19_SLICES = ((0, 2), (2, 7), (7, 12), (12, 21), (21, 30))
FEATURE_CHANNELS = (64, 128, 256, 512, 512)
FEATURE_NAMES = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
TORCHVISION_FILE = "vgg19-dcbb9e9d.pth"
ENCODER_FILE_NAMES = (TORCHVISION_FILE, "vgg19.safetensors", "vgg19.pth")
RANDOM_SEED = 20200512
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# VGG-19 configuration up to conv5_1: channel counts and 'M' for max-pool.
_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512)


def _vgg19_layers() -> list[nn.Module]:
    layers: list[nn.Module] = []
    in_ch = 3
    for v in _CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_ch, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            in_ch = int(v)
    return layers


@dataclass(frozen=True)
class EncoderIdentity:
    """Which weights an encoder carries: ``kind`` is pretrained, file or random."""

    kind: str
    source: str
    fingerprint: str

    @property
    def is_random(self) -> bool:
        return self.kind == "random"


class VGGEncoder(nn.Module):
    """VGG-19 up to relu5_1, frozen; ``forward`` returns the five relu_X_1 maps."""

    def __init__(self) -> None:
        super().__init__()
        layers = _vgg19_layers()
        self.features = nn.Sequential(*layers)
        self.slices = [range(a, b) for a, b in VGG19_SLICES]
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.identity = EncoderIdentity("random", "unset", "")
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGGEncoder:
        return super().train(False)

    def forward(self, x: torch.Tensor, upto: int = 5) -> list[torch.Tensor]:
        """``x`` RGB in 0..1 ``[B, 3, H, W]`` → the first ``upto`` relu_X_1 maps."""
        h = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        feats = []
        for rng in self.slices[:upto]:
            for i in rng:
                h = self.features[i](h)
            feats.append(h)
        return feats

    def load_features_state(self, state: dict[str, torch.Tensor], source: str) -> None:
        """Load ``features.N.weight/bias`` (torchvision layout; other keys ignored)."""
        wanted = {k: v for k, v in self.features.state_dict().items()}
        picked = {}
        for key in wanted:
            for candidate in (f"features.{key}", key):
                if candidate in state:
                    picked[key] = state[candidate]
                    break
            else:
                raise EncoderWeightsError(
                    f"{source} is not a VGG-19 state dict: key 'features.{key}' is missing"
                )
            if tuple(picked[key].shape) != tuple(wanted[key].shape):
                raise EncoderWeightsError(
                    f"{source} is not a VGG-19 state dict: 'features.{key}' has shape "
                    f"{tuple(picked[key].shape)}, expected {tuple(wanted[key].shape)}"
                )
        self.features.load_state_dict({k: v.float() for k, v in picked.items()})

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for key, value in sorted(self.features.state_dict().items()):
            h.update(key.encode())
            h.update(value.detach().float().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]


ENCODER_FILE_SUFFIXES = (".pth", ".pt", ".safetensors")


def is_encoder_file_name(name: str) -> bool:
    """Encoder weight files are recognised by name: ``vgg*.pth|.pt|.safetensors``."""
    lower = name.lower()
    return lower.startswith("vgg") and lower.endswith(ENCODER_FILE_SUFFIXES)


def list_encoder_files(folder: str | os.PathLike | None) -> list[str]:
    """Names of VGG-19 weight files placed directly in ``folder`` (sorted)."""
    if folder is None or not Path(folder).is_dir():
        return []
    return sorted(p.name for p in Path(folder).iterdir() if p.is_file() and is_encoder_file_name(p.name))


def _random_init(encoder: VGGEncoder, seed: int = RANDOM_SEED) -> None:
    """Deterministic Kaiming init (as torchvision's VGG does), the same on every machine."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in encoder.features:
            if isinstance(m, nn.Conv2d):
                fan_out = m.out_channels * m.kernel_size[0] * m.kernel_size[1]
                std = (2.0 / fan_out) ** 0.5
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * std)
                m.bias.zero_()


def read_state_file(path: Path) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a ``.pth`` (weights-only, no code)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt file, pickle with code, etc.
        raise EncoderWeightsError(f"cannot read encoder weights {path}: {exc}") from exc
    if not isinstance(state, dict):
        raise EncoderWeightsError(f"{path} does not hold a state dict")
    return state


def _torchvision_state(allow_download: bool) -> tuple[dict[str, torch.Tensor], str] | None:
    """torchvision's standard weights from its cache, or downloaded when allowed."""
    hub_file = Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE
    if hub_file.is_file():
        return read_state_file(hub_file), f"torchvision cache {hub_file}"
    if not allow_download:
        return None
    try:
        from torchvision.models import VGG19_Weights

        state = VGG19_Weights.IMAGENET1K_V1.get_state_dict(progress=True)
    except Exception:  # offline, proxy, SSL: reported by the caller with where-to-put advice
        return None
    return state, "torchvision VGG19_Weights.IMAGENET1K_V1"


def missing_weights_message(models_dir: str | os.PathLike | None) -> str:
    where = f"{models_dir}" if models_dir else "your models folder (models/qagan in ComfyUI)"
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    return (
        "VGG-19 encoder weights not found: torchvision could not download them. "
        f"Put torchvision's '{TORCHVISION_FILE}' (from https://download.pytorch.org/models/"
        f"{TORCHVISION_FILE}) into {where} or {hub}"
    )


def resolve_encoder(
    weights: str | os.PathLike = "pretrained",
    models_dir: str | os.PathLike | None = None,
    allow_download: bool = True,
) -> VGGEncoder:
    """Build the frozen encoder from ``weights``.

    ``weights`` is ``"pretrained"`` (models folder, then torchvision cache or
    download), ``"random"`` (seeded random init, for tests and offline demos),
    or a path to a weights file.
    """
    encoder = VGGEncoder()
    weights = str(weights)
    if weights == "random":
        _random_init(encoder)
        encoder.identity = EncoderIdentity("random", f"seed {RANDOM_SEED}", encoder.fingerprint())
        return encoder
    if weights != "pretrained":
        path = Path(weights)
        if not path.is_file():
            raise EncoderWeightsError(f"encoder weights file not found: {path}")
        encoder.load_features_state(read_state_file(path), str(path))
        encoder.identity = EncoderIdentity("file", path.name, encoder.fingerprint())
        return encoder
    if models_dir is not None:
        for name in ENCODER_FILE_NAMES:
            path = Path(models_dir) / name
            if path.is_file():
                encoder.load_features_state(read_state_file(path), str(path))
                encoder.identity = EncoderIdentity("pretrained", name, encoder.fingerprint())
                return encoder
    found = _torchvision_state(allow_download)
    if found is None:
        raise EncoderWeightsMissing(missing_weights_message(models_dir))
    state, source = found
    encoder.load_features_state(state, source)
    encoder.identity = EncoderIdentity("pretrained", TORCHVISION_FILE, encoder.fingerprint())
    return encoder
