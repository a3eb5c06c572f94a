"""QAGAN Load Model and QAGAN Save Model."""

from __future__ import annotations

from pathlib import Path

from ..qagan_core import QAGAN, ModelCache, ModelFileError, save_model
from ..qagan_core.checkpoints import STATE_SUFFIX
from . import comfy_env
from .common import CATEGORY, MODEL_TYPE, model_file_name

# Loaded models, keyed by path, modification time and size (rewritten files reload).
MODEL_CACHE = ModelCache(max_items=4)

IF_EXISTS = ("add number", "error", "overwrite")


class QAGANLoadModel:
    DESCRIPTION = (
        "Load a QAGAN enhancement model (.safetensors) from models/qagan. The model is rebuilt "
        "with the VGG-19 encoder it was trained with; if those weights are missing the error "
        "names the file and where to put it. Loaded models are cached until the file changes."
    )
    CATEGORY = CATEGORY
    RETURN_TYPES = (MODEL_TYPE,)
    RETURN_NAMES = ("model",)
    OUTPUT_TOOLTIPS = ("The enhancement model (G_H and G_L with their encoder).",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "model_name": (
                    [n for n in comfy_env.model_names() if not n.endswith(STATE_SUFFIX)],
                    {"tooltip": "A model file in models/qagan (written by QAGAN Train or QAGAN Save "
                                "Model); training states (*.state.safetensors) are not listed."},
                ),
            }
        }

    @classmethod
    def IS_CHANGED(cls, model_name: str) -> str:
        """The file's identity, so ComfyUI's cache serves a retrained model, not the old one
        (a save replaces the file: new inode, time and usually size)."""
        try:
            st = comfy_env.model_path(model_name).stat()
        except OSError:
            return "missing"
        return f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"

    def load(self, model_name: str) -> tuple[QAGAN]:
        try:
            path = comfy_env.model_path(model_name)
        except FileNotFoundError as exc:
            raise ModelFileError(f"model {model_name!r} not found in {comfy_env.model_dir()}") from exc
        return (MODEL_CACHE.load(path, models_dir=comfy_env.model_dir()),)


def _free_name(folder: Path, file_name: str) -> Path:
    stem = file_name[: -len(".safetensors")]
    for n in range(1, 100_000):
        candidate = folder / f"{stem}_{n:05d}.safetensors"
        if not candidate.exists():
            return candidate
    raise ModelFileError(f"no free file name for {file_name} in {folder}")


class QAGANSaveModel:
    DESCRIPTION = (
        "Save a QAGAN model as an enhancement model in models/qagan. An existing file is never "
        "overwritten silently: a number is added to the name, or the node stops with an error, "
        "unless 'overwrite' is chosen."
    )
    CATEGORY = CATEGORY
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("file_name",)
    OUTPUT_TOOLTIPS = ("The name of the file written in models/qagan.",)
    FUNCTION = "save"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "model": (MODEL_TYPE, {"tooltip": "The model to save."}),
                "file_name": (
                    "STRING",
                    {"default": "my_look", "tooltip": "File name in models/qagan (.safetensors is added)."},
                ),
                "if_exists": (
                    list(IF_EXISTS),
                    {
                        "default": "add number",
                        "tooltip": "When the file exists: write name_00001.safetensors instead, stop "
                        "with an error, or replace it.",
                    },
                ),
            }
        }

    def save(self, model: QAGAN, file_name: str, if_exists: str = "add number") -> dict:
        folder = comfy_env.model_dir()
        path = folder / model_file_name(file_name)
        if path.exists():
            if if_exists == "add number":
                path = _free_name(folder, path.name)
            elif if_exists != "overwrite":
                raise ModelFileError(
                    f"{path.name} already exists in {folder}; choose another name or 'add number'"
                )
        save_model(model, path, overwrite=True)
        name = path.relative_to(folder).as_posix()
        return {"ui": {"text": [f"saved models/qagan/{name}"]}, "result": (name,)}
