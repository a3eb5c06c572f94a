"""Loaded models kept in memory, keyed by file path, modification time and size.

Hosts that load the same model file again and again (a ComfyUI graph queued
many times) get the already-built model back; a file that was rewritten (new
modification time or size) is loaded afresh.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

from .checkpoints import load_model
from .errors import ModelFileError
from .model.qagan import QAGAN

CacheKey = tuple[str, int, int]


class ModelCache:
    """A small LRU cache of ``load_model`` results."""

    def __init__(self, max_items: int = 4) -> None:
        self.max_items = max_items
        self._items: OrderedDict[CacheKey, QAGAN] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(path: str | os.PathLike) -> CacheKey:
        path = Path(path).resolve()
        try:
            st = path.stat()
        except OSError as exc:
            raise ModelFileError(f"model file not found: {path}") from exc
        return (str(path), st.st_mtime_ns, st.st_size)

    def load(self, path: str | os.PathLike, models_dir: str | os.PathLike | None = None) -> QAGAN:
        """The model in ``path``, from memory when the file has not changed since it was loaded."""
        key = self.key(path)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        model = load_model(path, models_dir=models_dir)
        with self._lock:
            for old in [k for k in self._items if k[0] == key[0]]:
                del self._items[old]
            self._items[key] = model
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return model

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
