"""QAGAN Enhance, QAGAN Enhance Folder and QAGAN Degrade.

Memory: as ComfyUI's own upscale-model node does, a model waits on ComfyUI's offload
device (the CPU unless ``--highvram``/``--gpu-only``; the model cache keeps it there) and
is moved to ComfyUI's device only while a node runs (``_run_on_device``): other models are
unloaded first to make room (``free_memory`` with the pack's estimate), and the model is
moved back in a ``finally``, so a Cancel or an error frees the device as well.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import torch

from ..qagan_core import QAGAN, Cancelled, QAGANError, degrade, enhance, enhance_folder
from ..qagan_core.devices import is_out_of_memory
from ..qagan_core.inference import (
    MODES,
    STEP_UNITS,
    estimate_bytes,
    memory_required,
    module_bytes,
    out_of_memory_message,
)
from . import comfy_env, common, tensors
from .common import CATEGORY, MODEL_TYPE, enhance_options

T = TypeVar("T")


def _run_cancellable(fn: Callable[[], T]) -> T:
    """Run ``fn``; a qagan_core cancellation becomes the host's interruption."""
    try:
        return fn()
    except Cancelled:
        if comfy_env.interrupted():
            raise comfy_env.interrupt_error() from None
        raise


def _is_oom(exc: BaseException) -> bool:
    """An allocation failure, or the core's out-of-memory error (raised from one)."""
    return is_out_of_memory(exc) or (isinstance(exc, QAGANError) and exc.__cause__ is not None
                                     and is_out_of_memory(exc.__cause__))


def _run_on_device(model: QAGAN, required: int, what: str, fn: Callable[[], T]) -> T:
    """``fn()`` with ``model`` on ComfyUI's device, the way ComfyUI's upscale-model node runs.

    ``required`` bytes are freed on the device first (ComfyUI unloads other models; a
    ``--cpu`` run gets the CPU as device), the model is moved there, and moved back to the
    offload device in a ``finally``: after success, Cancel or an error, it holds no VRAM
    between runs. Out of memory: the cache is emptied and one ``QAGANError`` says what
    failed and what to do (``what``: "enhancing a 768x576 image"). Under ``--lowvram`` /
    ``--novram`` the cache is emptied after every run.
    """
    device = comfy_env.device()
    message = None
    try:
        try:
            comfy_env.free_memory(required, device)
            model.to(device)
            return _run_cancellable(fn)
        finally:
            model.to(comfy_env.offload_device())
            if comfy_env.low_vram():
                comfy_env.empty_cache()
    except Exception as exc:
        if not _is_oom(exc):
            raise
        message = str(exc) if isinstance(exc, QAGANError) else out_of_memory_message(what, device)
    # Outside the except block, so the failed run's tensors are released before emptying the cache.
    comfy_env.empty_cache()
    raise QAGANError(message)


def _model_input() -> tuple:
    return (MODEL_TYPE, {"tooltip": "A QAGAN model from QAGAN Load Model or QAGAN Train."})


def _enhance_inputs() -> dict[str, tuple]:
    return {
        "strength": (
            "FLOAT",
            {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.05,
             "tooltip": "Blend between the input (0) and the full enhancement (1)."},
        ),
        "mode": (
            list(MODES),
            {"default": "auto",
             "tooltip": "auto: exact when the image fits in memory, else fast; exact: whole image at "
             "once (tiles share one global colour transform); fast: quicker, approximate."},
        ),
        "tile_size": (
            "INT",
            {"default": 0, "min": 0, "max": 8192, "step": 64,
             "tooltip": "Tile size in pixels for large images; 0 = automatic."},
        ),
    }


class QAGANEnhance:
    DESCRIPTION = (
        "Enhance photos with a QAGAN model (G_H). Every image keeps its size; any batch size works. "
        "RGBA keeps its alpha channel, grayscale becomes RGB. Runs on ComfyUI's device."
    )
    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("The enhanced images, same size as the input.",)
    FUNCTION = "enhance"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "The low-quality photos to enhance."}),
                "model": _model_input(),
                **_enhance_inputs(),
            }
        }

    def enhance(
        self, image: torch.Tensor | list[torch.Tensor], model: QAGAN, strength: float = 1.0,
        mode: str = "auto", tile_size: int = 0,
    ) -> tuple[torch.Tensor | list[torch.Tensor]]:
        if isinstance(image, (list, tuple)):  # images of different sizes: each at its own size
            return ([self.enhance(im, model, strength, mode, tile_size)[0] for im in image],)
        if image.dim() == 4 and image.shape[0] == 0:
            return (tensors.empty_like(image, tensors.out_channels(image)),)
        items = tensors.split(image)  # IMAGE [B,H,W,C] -> RGB [3,H,W] (+ alpha) per image
        options = enhance_options(mode, tile_size)
        h, w = image.shape[-3:-1]
        required = memory_required(model, h, w, mode, options.get("tile"), device=comfy_env.device())
        # Progress inside each image too (stages or tiles): one photo can take tens of seconds.
        pbar = comfy_env.progress_bar(len(items) * STEP_UNITS)
        enhanced = _run_on_device(model, required, f"enhancing a {w}x{h} image", lambda: enhance(
            [rgb for rgb, _ in items], model, strength,
            on_step=lambda done, total, _stage: pbar.update_absolute(done, total),
            should_stop=comfy_env.interrupted, **options,
        ))
        return (tensors.join([(y, alpha) for y, (_, alpha) in zip(enhanced, items, strict=True)]),)


class QAGANEnhanceFolder:
    DESCRIPTION = (
        "Batch-enhance a folder of photos (any number) from ComfyUI's input directory into the output "
        "directory, keeping names and subfolders. Photos are processed one at a time in constant "
        "memory; unreadable files are skipped and listed in the summary. Queue again after Cancel "
        "to continue where it stopped (existing outputs are skipped)."
    )
    CATEGORY = CATEGORY
    RETURN_TYPES = ("STRING", "IMAGE")
    RETURN_NAMES = ("summary", "previews")
    OUTPUT_TOOLTIPS = ("What was written and skipped.", "Small copies of the first enhanced photos.")
    OUTPUT_IS_LIST = (False, True)
    FUNCTION = "enhance_folder"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "model": _model_input(),
                "input_folder": (
                    common.input_subfolders(),
                    {"tooltip": "A folder inside ComfyUI's input directory (subfolders included)."},
                ),
                "output_folder": (
                    "STRING",
                    {"default": "qagan_enhanced",
                     "tooltip": "Folder inside ComfyUI's output directory for the enhanced photos."},
                ),
                **_enhance_inputs(),
                "if_exists": (
                    ["skip", "overwrite"],
                    {"default": "skip",
                     "tooltip": "skip: keep outputs already written (continue a cancelled run); "
                     "overwrite: enhance again."},
                ),
                "preview_count": (
                    "INT",
                    {"default": 4, "min": 0, "max": 64,
                     "tooltip": "How many enhanced photos to return as previews."},
                ),
            }
        }

    @classmethod
    def IS_CHANGED(cls, **_kwargs: Any) -> float:
        return float("nan")  # the folder's contents may have changed: always run

    def enhance_folder(
        self, model: QAGAN, input_folder: str, output_folder: str, strength: float = 1.0,
        mode: str = "auto", tile_size: int = 0, if_exists: str = "skip", preview_count: int = 4,
    ) -> tuple[str, list[torch.Tensor]]:
        src, dst = common.input_folder(input_folder), common.output_folder(output_folder)
        pbar = comfy_env.progress_bar(1)
        # Photo sizes are not known in advance: room for a full-size pass (automatic tile).
        options = enhance_options(mode, tile_size)
        required = memory_required(model, 1024, 1024, "exact", options.get("tile"),
                                   device=comfy_env.device())
        report = _run_on_device(model, required, "enhancing a folder", lambda: enhance_folder(
            src, dst, model, strength, options, if_exists, preview_count,
            on_progress=lambda done, total, _path: pbar.update_absolute(done, total),
            should_stop=comfy_env.interrupted,
        ))
        summary = report.summary(src.name, dst)
        previews = [tensors.to_comfy(p) for p in report.previews]
        if not previews:
            previews = [torch.zeros((1, 64, 64, 3))]
        return (summary, previews)


class QAGANDegrade:
    DESCRIPTION = (
        "Render high-quality photos with the look of a low-quality reference (G_L): synthetic "
        "low-quality images. A reference batch of 1 is used for every image; otherwise image i "
        "uses reference i."
    )
    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    OUTPUT_TOOLTIPS = ("The degraded images, same size as the input.",)
    FUNCTION = "degrade"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "High-quality photos to degrade."}),
                "low_quality_reference": (
                    "IMAGE",
                    {"tooltip": "A low-quality photo whose look is copied (batch 1, or one per image)."},
                ),
                "model": _model_input(),
            }
        }

    def degrade(
        self, image: torch.Tensor | list[torch.Tensor], low_quality_reference: torch.Tensor, model: QAGAN
    ) -> tuple[torch.Tensor | list[torch.Tensor]]:
        if isinstance(low_quality_reference, (list, tuple)):
            low_quality_reference = low_quality_reference[0]
        refs = [x for x, _ in tensors.split(low_quality_reference)]
        if not refs:
            raise QAGANError("the low-quality reference batch is empty")

        def run(items: list[tensors.Split]) -> list[torch.Tensor]:
            if len(refs) not in (1, len(items)):
                raise QAGANError(
                    f"reference batch has {len(refs)} images for {len(items)} images: use 1 or {len(items)}"
                )
            pbar = comfy_env.progress_bar(len(items))
            out = []
            for i, (x, _) in enumerate(items):
                if comfy_env.interrupted():
                    raise comfy_env.interrupt_error()
                out.append(degrade(x, refs[i if len(refs) > 1 else 0], model))
                pbar.update_absolute(i + 1, len(items))
            return out

        largest = max((im.shape[-3] * im.shape[-2] for im in
                       (image if isinstance(image, (list, tuple)) else [image])), default=0)
        required = estimate_bytes(largest, largest, weights=module_bytes(model))  # G_L: whole image
        return (_run_on_device(model, required, "degrading",
                               lambda: tensors.map_images(image, run)),)
