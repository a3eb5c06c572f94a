"""QAGAN for ComfyUI: unpaired photo enhancement nodes (load, enhance, train, save, batch, evaluate).

Clone this repository into ComfyUI/custom_nodes/ (any folder name works: imports are
relative). Importing it is cheap: no model is loaded until a node runs.
"""

# ComfyUI imports this folder as a package. pytest also imports this file, as a
# plain module (the repository root is a test rootdir): then there is no package
# to import the nodes relative to, and nothing is exported.
if __package__:
    from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

    __all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
