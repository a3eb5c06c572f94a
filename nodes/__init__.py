"""The ComfyUI nodes: thin adapters over qagan_core's public API."""

from __future__ import annotations

from . import comfy_env
from .enhance_nodes import QAGANDegrade, QAGANEnhance, QAGANEnhanceFolder
from .evaluate_node import QAGANEvaluate
from .model_nodes import QAGANLoadModel, QAGANSaveModel
from .train_node import QAGANTrain

comfy_env.register_model_folder()

NODE_CLASS_MAPPINGS = {
    "QAGANLoadModel": QAGANLoadModel,
    "QAGANEnhance": QAGANEnhance,
    "QAGANTrain": QAGANTrain,
    "QAGANSaveModel": QAGANSaveModel,
    "QAGANEnhanceFolder": QAGANEnhanceFolder,
    "QAGANDegrade": QAGANDegrade,
    "QAGANEvaluate": QAGANEvaluate,
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "QAGANLoadModel": "QAGAN Load Model",
    "QAGANEnhance": "QAGAN Enhance",
    "QAGANTrain": "QAGAN Train (unpaired)",
    "QAGANSaveModel": "QAGAN Save Model",
    "QAGANEnhanceFolder": "QAGAN Enhance Folder",
    "QAGANDegrade": "QAGAN Degrade",
    "QAGANEvaluate": "QAGAN Evaluate",
}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
