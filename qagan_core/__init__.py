"""QAGAN: unpaired photo enhancement with a Quality-Attention GAN (Ni et al., ACM MM 2020).

Public API (used by the ComfyUI nodes, the CLI and the tests)::

    from qagan_core import Trainer, TrainConfig, load_model, save_model, enhance, degrade

This package imports nothing from ComfyUI.
"""

from .checkpoints import load_model, read_model_info, save_model
from .devices import pick_device
from .encoder import VGGEncoder, resolve_encoder
from .errors import (
    Cancelled,
    DataError,
    EncoderWeightsError,
    ModelFileError,
    QAGANError,
    TrainingDiverged,
)
from .images import list_images, load_image, save_image
from .inference import degrade, enhance
from .metrics import psnr, ssim
from .model import ModelConfig
from .model.qagan import QAGAN
from .training import Progress, TrainConfig, Trainer, TrainResult

__version__ = "0.1.0"

__all__ = [
    "QAGAN",
    "Cancelled",
    "DataError",
    "EncoderWeightsError",
    "ModelConfig",
    "ModelFileError",
    "Progress",
    "QAGANError",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingDiverged",
    "VGGEncoder",
    "degrade",
    "enhance",
    "list_images",
    "load_image",
    "load_model",
    "pick_device",
    "psnr",
    "read_model_info",
    "resolve_encoder",
    "save_image",
    "save_model",
    "ssim",
]
