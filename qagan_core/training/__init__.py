"""Training: unpaired data, settings and the training engine."""

from .config import PRESETS, TrainConfig, budget_sizes, lr_factor, lr_factor_at, preset_settings
from .data import ImageFolder, SampleSpec
from .trainer import Progress, Trainer, TrainResult

__all__ = [
    "PRESETS",
    "ImageFolder",
    "Progress",
    "SampleSpec",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "budget_sizes",
    "lr_factor",
    "lr_factor_at",
    "preset_settings",
]
