"""Architecture configuration, stored in every checkpoint's metadata."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import ModelFileError

ARCH_NAME = "qagan-vgg19"
ADDED_OPTIONS_OLD_VALUES = {"curve_pixel_stats": False}


@dataclass(frozen=True)
class ModelConfig:
    """Choices the paper leaves open (see docs/architecture.md for the measurements).

    - ``residual_output``: generators predict a change added to their input
      (last conv zero-initialised, so training starts from the identity).
    - ``global_curve``: G_H also predicts a per-image colour transform (3x3 mix,
      bias, per-channel monotone curve) from global VGG statistics of a fixed-size
      thumbnail; resolution-independent, so tiles and full-size runs agree.
    - ``curve_pixel_stats``: the global head also sees the thumbnail's own
      per-channel mean, std and quantiles, not only VGG statistics.
    - ``use_qam``: False replaces G_L's QAMs by plain conv blocks (the
      CycleGAN-style ablation of the paper).
    - ``qam_residual``: QAM adds its projected attention output to f_H before
      AdaIN, as a non-local block does; False follows eqs. 2 and 5 literally.
    """

    residual_output: bool = True
    global_curve: bool = True
    curve_knots: int = 16
    curve_pixel_stats: bool = False
    global_size: int = 128
    use_qam: bool = True
    qam_residual: bool = True
    qam_reduction: int = 8
    d_channels: int = 64
    spectral_norm: bool = True

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelFileError(
                f"model uses an architecture this version does not know (options {unknown}); "
                "update the QAGAN package"
            )
        for f in dataclasses.fields(cls):
            if f.name in data and type(data[f.name]) is not type(f.default):
                raise ModelFileError(
                    f"model metadata is damaged: option {f.name!r} is {data[f.name]!r}, expected "
                    f"{type(f.default).__name__}"
                )
        # Options added after the first release: a file without them was made
        # before they existed, so it has the old behaviour, whatever the default is now.
        return cls(**{**ADDED_OPTIONS_OLD_VALUES, **data})
