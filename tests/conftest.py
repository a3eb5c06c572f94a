"""Fixtures: a cached random encoder, tiny photo folders, deterministic seeds."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import write_photos

from qagan_core.encoder import VGGEncoder, resolve_encoder


@pytest.fixture(scope="session")
def random_encoder() -> VGGEncoder:
    return resolve_encoder("random")


@pytest.fixture()
def folders(tmp_path: Path) -> tuple[Path, Path]:
    low, high = tmp_path / "low", tmp_path / "high"
    write_photos(low, 3, seed=1, dark=True)
    write_photos(high, 3, seed=2, dark=False)
    return low, high


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)
