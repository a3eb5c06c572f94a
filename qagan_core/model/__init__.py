"""QAGAN networks: QAM, the two generators, the discriminator and the losses."""

from .config import ARCH_NAME, ModelConfig
from .discriminator import MultiScaleDiscriminator
from .generators import GeneratorH, GeneratorL, apply_curve, crop_to, pad_to_multiple
from .losses import color_distance, cycle_loss, rahinge_d_loss, rahinge_g_loss, random_directions
from .qagan import QAGAN
from .qam import QualityAttention, adain, channel_stats

__all__ = [
    "ARCH_NAME",
    "QAGAN",
    "GeneratorH",
    "GeneratorL",
    "ModelConfig",
    "MultiScaleDiscriminator",
    "QualityAttention",
    "adain",
    "apply_curve",
    "channel_stats",
    "color_distance",
    "crop_to",
    "cycle_loss",
    "pad_to_multiple",
    "rahinge_d_loss",
    "rahinge_g_loss",
    "random_directions",
]
