"""QAGAN: unpaired photo enhancement with a Quality-Attention GAN (Ni et al., ACM MM 2020).

Public API (used by the ComfyUI nodes, the CLI and the tests)::

    from qagan_core import Trainer, TrainConfig, load_model, save_model, enhance, degrade

This package imports nothing from ComfyUI.
"""

from .cache import ModelCache
from .checkpoints import find_resume_state, load_model, read_model_info, save_model, state_path_for
from .devices import pick_device
from .encoder import VGGEncoder, is_encoder_file_name, list_encoder_files, resolve_encoder
from .errors import (
    Cancelled,
    DataError,
    EncoderWeightsError,
    EncoderWeightsMissing,
    ModelFileError,
    QAGANError,
    TrainingDiverged,
)
from .images import list_images, load_image, save_image
from .inference import FolderReport, degrade, enhance, enhance_folder
from .metrics import psnr, ssim
from .model import ModelConfig
from .model.qagan import QAGAN
from .plots import loss_curve_image
from .training import PRESETS, Progress, TrainConfig, Trainer, TrainResult

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "QAGAN",
    "Cancelled",
    "DataError",
    "EncoderWeightsError",
    "EncoderWeightsMissing",
    "FolderReport",
    "ModelCache",
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
    "enhance_folder",
    "find_resume_state",
    "is_encoder_file_name",
    "list_encoder_files",
    "list_images",
    "load_image",
    "load_model",
    "loss_curve_image",
    "pick_device",
    "psnr",
    "read_model_info",
    "resolve_encoder",
    "save_image",
    "save_model",
    "ssim",
    "state_path_for",
]
