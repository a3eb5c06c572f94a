"""Run an API-format ComfyUI workflow by following its links through node classes.

This mirrors what ComfyUI's executor does, in miniature: inputs are literal
widget values or ``[node_id, output_index]`` links; nodes run under
``torch.inference_mode()``; an input fed by a list output (``OUTPUT_IS_LIST``)
makes the node run once per item. Widget values are validated against
``INPUT_TYPES`` (combo choices, number ranges) and link types against
``RETURN_TYPES``. Core ComfyUI nodes used by the example workflows are replaced
by small stand-ins (``CORE_STANDINS``) that read from / write to the
stand-in input and output folders.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

ANY = "*"


class LoadImage:
    dir: Path = Path()

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        files = sorted(p.name for p in cls.dir.iterdir() if p.is_file()) if cls.dir.is_dir() else []
        return {"required": {"image": (files, {"image_upload": True})}}

    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "load"
    loader: Any = None

    def load(self, image: str) -> tuple:
        rgb = self.loader(self.dir / image)
        return (rgb.permute(1, 2, 0)[None], torch.zeros(1, *rgb.shape[1:]))


class PreviewImage:
    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {"images": ("IMAGE",)}}

    RETURN_TYPES = ()
    FUNCTION = "show"
    OUTPUT_NODE = True

    def show(self, images: torch.Tensor) -> dict:
        assert images.dim() == 4 and images.shape[-1] in (3, 4)
        return {"ui": {"images": [tuple(images.shape)]}}


class SaveImage:
    dir: Path = Path()
    saver: Any = None

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {"images": ("IMAGE",), "filename_prefix": ("STRING", {"default": "ComfyUI"})}}

    RETURN_TYPES = ()
    FUNCTION = "save"
    OUTPUT_NODE = True

    def save(self, images: torch.Tensor, filename_prefix: str) -> dict:
        written = []
        for i, img in enumerate(images):
            path = self.dir / f"{filename_prefix}_{i:05d}_.png"
            self.saver(img[..., :3].permute(2, 0, 1), path)
            written.append(str(path))
        return {"ui": {"images": written}}


class LossGraphNode:
    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {"loss": ("LOSS_MAP",), "filename_prefix": ("STRING", {"default": "loss_graph"})}}

    RETURN_TYPES = ()
    FUNCTION = "plot"
    OUTPUT_NODE = True

    def plot(self, loss: dict, filename_prefix: str) -> dict:
        # ComfyUI's Plot Loss Graph reads loss["loss"], a list of floats.
        assert isinstance(loss, dict) and isinstance(loss["loss"], list) and loss["loss"]
        assert all(isinstance(v, float) for v in loss["loss"])
        # It scales by (max - min): a single step (or constant losses) would divide by zero.
        assert max(loss["loss"]) > min(loss["loss"]), "Plot Loss Graph needs at least two different losses"
        return {"ui": {"loss": list(loss["loss"])}}


class PreviewAny:
    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {"required": {"source": (ANY, {})}}

    RETURN_TYPES = ()
    FUNCTION = "main"
    OUTPUT_NODE = True

    def main(self, source: Any) -> dict:
        return {"ui": {"text": [source if isinstance(source, str) else json.dumps(source)]}}


CORE_STANDINS = {
    "LoadImage": LoadImage,
    "PreviewImage": PreviewImage,
    "SaveImage": SaveImage,
    "LossGraphNode": LossGraphNode,
    "PreviewAny": PreviewAny,
}


def setup_standins(input_dir: Path, output_dir: Path, load_image: Any, save_image: Any) -> None:
    LoadImage.dir, LoadImage.loader = input_dir, staticmethod(load_image)
    SaveImage.dir, SaveImage.saver = output_dir, staticmethod(save_image)


def _is_link(value: Any) -> bool:
    if not (isinstance(value, list) and len(value) == 2):
        return False
    return isinstance(value[0], str) and isinstance(value[1], int)


def check_widget(node_id: str, name: str, spec: tuple, value: Any) -> None:
    kind = spec[0]
    options = spec[1] if len(spec) > 1 else {}
    where = f"node {node_id} input {name!r}"
    if isinstance(kind, list):
        assert value in kind, f"{where}: {value!r} is not one of {kind}"
    elif kind == "INT":
        assert isinstance(value, int) and not isinstance(value, bool), f"{where}: {value!r} is not an INT"
    elif kind == "FLOAT":
        assert isinstance(value, (int, float)), f"{where}: {value!r} is not a FLOAT"
    elif kind == "STRING":
        assert isinstance(value, str), f"{where}: {value!r} is not a STRING"
    elif kind == "BOOLEAN":
        assert isinstance(value, bool), f"{where}: {value!r} is not a BOOLEAN"
    else:
        raise AssertionError(f"{where}: a {kind} input must be linked, got the literal {value!r}")
    if kind in ("INT", "FLOAT"):
        low, high = options.get("min", value), options.get("max", value)
        assert low <= value <= high, f"{where}: {value} out of range"


class WorkflowRunner:
    """Executes an API workflow; ``outputs[node_id]`` holds each output as a list of values."""

    def __init__(self, prompt: dict[str, dict], classes: dict[str, type]) -> None:
        self.prompt = prompt
        self.classes = classes
        self.outputs: dict[str, list[list[Any]]] = {}
        self.ui: dict[str, list[dict]] = {}

    def validate(self) -> None:
        for node_id, node in self.prompt.items():
            cls = self.classes.get(node["class_type"])
            kind = node["class_type"]
            assert cls is not None, f"node {node_id}: unknown class_type {kind!r}"
            spec = cls.INPUT_TYPES()
            declared = {**spec.get("required", {}), **spec.get("optional", {})}
            for name in spec.get("required", {}):
                assert name in node["inputs"], f"node {node_id} ({kind}): missing input {name!r}"
            for name, value in node["inputs"].items():
                assert name in declared, f"node {node_id}: {kind} has no input {name!r}"
                if _is_link(value):
                    src_id, index = value
                    assert src_id in self.prompt, f"node {node_id}: link to missing node {src_id}"
                    src_cls = self.classes[self.prompt[src_id]["class_type"]]
                    out_type = src_cls.RETURN_TYPES[index]
                    want = declared[name][0]
                    assert want in (ANY, out_type), f"node {node_id} {name!r}: {out_type} linked to {want}"
                else:
                    check_widget(node_id, name, declared[name], value)

    def run(self) -> WorkflowRunner:
        self.validate()
        outputs = [node_id for node_id, node in self.prompt.items()
                   if getattr(self.classes[node["class_type"]], "OUTPUT_NODE", False)]
        assert outputs, "a prompt without an output node runs nothing in ComfyUI"
        with torch.inference_mode():  # as ComfyUI: output nodes and what they depend on, only
            for node_id in outputs:
                self._execute(node_id)
        return self

    def _execute(self, node_id: str) -> list[list[Any]]:
        if node_id in self.outputs:
            return self.outputs[node_id]
        node = self.prompt[node_id]
        cls = self.classes[node["class_type"]]
        inputs: dict[str, list[Any]] = {}
        for name, value in node["inputs"].items():
            if _is_link(value):
                inputs[name] = self._execute(value[0])[value[1]]
            else:
                inputs[name] = [value]
        calls = max((len(v) for v in inputs.values()), default=1)
        assert calls > 0, f"node {node_id}: an input list is empty"
        n_out = len(cls.RETURN_TYPES)
        results: list[list[Any]] = [[] for _ in range(n_out)]
        is_list = getattr(cls, "OUTPUT_IS_LIST", (False,) * n_out)
        instance = cls()
        hidden = {name: node_id for name, kind in cls.INPUT_TYPES().get("hidden", {}).items()
                  if kind == "UNIQUE_ID"}  # as ComfyUI passes the node's id
        for i in range(calls):
            kwargs = {name: values[min(i, len(values) - 1)] for name, values in inputs.items()}
            kwargs.update(hidden)
            out = getattr(instance, cls.FUNCTION)(**kwargs)
            if isinstance(out, dict):
                self.ui.setdefault(node_id, []).append(out.get("ui", {}))
                out = out.get("result", ())
            assert len(out) == n_out, f"node {node_id}: {len(out)} values for {n_out} outputs"
            for j, value in enumerate(out):
                if is_list[j]:
                    results[j].extend(value)
                else:
                    results[j].append(value)
        self.outputs[node_id] = results
        return results


def load_api_workflow(path: str | os.PathLike, overrides: dict[str, dict[str, Any]] | None = None) -> dict:
    """Read an API workflow; ``overrides[class_type]`` replaces widget values (tests use tiny settings)."""
    prompt = json.loads(Path(path).read_text())
    for node in prompt.values():
        node["inputs"].update((overrides or {}).get(node["class_type"], {}))
    return prompt
