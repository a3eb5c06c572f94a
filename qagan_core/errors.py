"""User-facing errors.

Every failure a user can cause (bad folder, bad image, wrong model file, missing
encoder weights, diverged training, cancellation) is raised as a subclass of
``QAGANError`` whose message is one clear line naming the cause. The CLI prints
that line without a traceback; the ComfyUI nodes let it surface in the UI.
"""

from __future__ import annotations


class QAGANError(Exception):
    """An error caused by user input or environment, with a readable message."""


class DataError(QAGANError):
    """A folder or image the user pointed at cannot be used."""


class ModelFileError(QAGANError):
    """A model or training-state file is missing, corrupt, foreign or incompatible."""


class EncoderWeightsError(QAGANError):
    """The VGG-19 encoder weights a model needs cannot be found or do not fit."""


class EncoderWeightsMissing(EncoderWeightsError):
    """No VGG-19 weights anywhere: the CLI and the nodes add how to provide them there."""


class TrainingDiverged(QAGANError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class Cancelled(QAGANError):
    """The caller asked the work to stop (e.g. ComfyUI's Cancel)."""
