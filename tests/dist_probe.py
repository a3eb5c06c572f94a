"""``python -m qagan_core`` with its effects recorded, for tests/test_distributed.py (run by torchrun).

In ``$QAGAN_PROBE_DIR``: ``writes.txt`` gets "rank<TAB>path" for every atomic file
write, ``steps.txt`` "rank<TAB>step" after every training step, ``pid<rank>`` this
process's id once training starts, and ``rank<r>.safetensors`` each process's own
networks when training ends (however it ends).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from safetensors.torch import save_file

from qagan_core import checkpoints, cli, images
from qagan_core.training.trainer import Trainer

PROBE = Path(os.environ["QAGAN_PROBE_DIR"])
RANK = os.environ.get("RANK", "0")


def _append(name: str, line: str) -> None:
    with open(PROBE / name, "a") as fh:
        fh.write(line + "\n")


def _recorded(write):
    def recording_write(path, data: bytes) -> None:
        _append("writes.txt", f"{RANK}\t{Path(path).resolve()}")
        write(path, data)

    return recording_write


checkpoints.atomic_write_bytes = _recorded(checkpoints.atomic_write_bytes)
images.atomic_write_bytes = _recorded(images.atomic_write_bytes)

_train_step, _run = Trainer.train_step, Trainer.run


def train_step(self: Trainer) -> dict[str, float]:
    losses = _train_step(self)
    _append("steps.txt", f"{RANK}\t{self.step}")
    return losses


def run(self: Trainer, *args, **kwargs):
    (PROBE / f"pid{RANK}").write_text(str(os.getpid()))
    try:
        return _run(self, *args, **kwargs)
    finally:
        tensors = {}
        for name, module in (("g_h", self.model.g_h), ("g_l", self.model.g_l),
                             ("d_h", self.d_h), ("d_l", self.d_l)):
            tensors.update({f"{name}.{k}": v.detach().contiguous() for k, v in module.state_dict().items()})
        save_file(tensors, str(PROBE / f"rank{RANK}.safetensors"))


Trainer.train_step, Trainer.run = train_step, run

if __name__ == "__main__":
    sys.exit(cli.main(sys.argv[1:]))
