"""Training: unpaired data, settings and the training engine."""

from .config import TrainConfig, lr_factor
from .data import ImageFolder, SampleSpec
from .trainer import Progress, Trainer, TrainResult

__all__ = ["ImageFolder", "Progress", "SampleSpec", "TrainConfig", "TrainResult", "Trainer", "lr_factor"]
