"""Enhance every photo of a folder into another folder, one image at a time.

Memory stays constant whatever the folder size: each photo is read, enhanced,
written and dropped before the next. Output files keep the input's relative
path and name (so its format). Unreadable photos are skipped and reported.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import Cancelled, DataError, QAGANError
from ..images import list_images, load_image_compact, save_image
from ..model.qagan import QAGAN
from ..pixels import fit_long_side
from .enhance import enhance

IF_EXISTS = ("skip", "overwrite")
FolderProgress = Callable[[int, int, Path], None]


@dataclass
class FolderReport:
    """What ``enhance_folder`` did; ``previews`` are small copies of the first outputs (written
    now or, when skipped, already there)."""

    total: int = 0
    written: list[Path] = field(default_factory=list)
    existing: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    previews: list[torch.Tensor] = field(default_factory=list)

    def summary(self, src: Path | None = None, dst: Path | None = None, max_listed: int = 20) -> str:
        lines = [
            f"{len(self.written)} of {self.total} image(s) enhanced"
            + (f" from {src}" if src else "") + (f" into {dst}" if dst else ""),
        ]
        if self.existing:
            lines.append(f"{len(self.existing)} already existed in the output folder and were skipped")
        if self.failed:
            lines.append(f"{len(self.failed)} unreadable file(s) skipped:")
            for path, reason in self.failed[:max_listed]:
                lines.append(f"  {path.name}: {reason}")
            if len(self.failed) > max_listed:
                lines.append(f"  ... and {len(self.failed) - max_listed} more")
        return "\n".join(lines)


def merge_reports(reports: list[FolderReport]) -> FolderReport:
    """One report for the shares of a folder enhanced by several processes (torchrun)."""
    merged = FolderReport(total=sum(r.total for r in reports))
    for r in reports:
        merged.written += r.written
        merged.existing += r.existing
        merged.failed += r.failed
        merged.previews += r.previews
    return merged


def _thumbnail(x: torch.Tensor, max_side: int) -> torch.Tensor:
    return fit_long_side(x.detach().cpu(), max_side).clone()


def enhance_folder(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    model: QAGAN,
    strength: float = 1.0,
    options: dict[str, Any] | None = None,
    if_exists: str = "skip",
    preview_count: int = 4,
    preview_max_side: int = 512,
    on_progress: FolderProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> FolderReport:
    """Enhance all photos under ``src`` into ``dst`` with the same relative paths.

    ``options`` are passed to ``enhance`` (e.g. ``tile``). ``if_exists``:
    ``"skip"`` keeps outputs that are already there (so a cancelled run can be
    continued), ``"overwrite"`` replaces them. ``on_progress(done, total, path)``
    is called after each photo; ``should_stop()`` is polled before each.
    """
    src, dst = Path(src), Path(dst)
    files = list_images(src)
    if not files:
        raise DataError(f"no images in folder {src}")
    if dst.resolve() == src.resolve():
        raise DataError(f"the output folder must differ from the input folder ({src})")
    jobs = [(path, dst / path.relative_to(src)) for path in files]
    return enhance_files(jobs, model, strength, options, if_exists, preview_count, preview_max_side,
                         on_progress, should_stop, dst)


def enhance_files(
    jobs: list[tuple[Path, Path]],
    model: QAGAN,
    strength: float = 1.0,
    options: dict[str, Any] | None = None,
    if_exists: str = "skip",
    preview_count: int = 0,
    preview_max_side: int = 512,
    on_progress: FolderProgress | None = None,
    should_stop: Callable[[], bool] | None = None,
    dst: Path | None = None,
) -> FolderReport:
    """Enhance each ``(input, output)`` file pair, one at a time (the engine of ``enhance_folder``)."""
    if if_exists not in IF_EXISTS:
        raise QAGANError(f"if_exists must be one of {IF_EXISTS}, got {if_exists!r}")
    report = FolderReport(total=len(jobs))
    where = f" to {dst}" if dst else ""
    for i, (path, out_path) in enumerate(jobs):
        if should_stop is not None and should_stop():
            raise Cancelled(
                f"enhancement cancelled after {i} of {len(jobs)} images "
                f"({len(report.written)} written{where}; queue again to continue)"
            )
        if out_path.exists() and if_exists == "skip":
            report.existing.append(out_path)
            if len(report.previews) < preview_count:  # show what is there: the earlier output
                try:
                    report.previews.append(_thumbnail(load_image_compact(out_path), preview_max_side))
                except DataError:
                    pass
        else:
            try:
                x = load_image_compact(path)  # uint8 for 8-bit photos: never a float copy
            except DataError as exc:
                report.failed.append((path, str(exc)))
            else:
                y = enhance(x, model, strength, out_dtype=torch.uint8, **(options or {}))
                assert isinstance(y, torch.Tensor)
                del x  # before encoding the output, which needs memory of its own
                save_image(y, out_path)
                report.written.append(out_path)
                if len(report.previews) < preview_count:
                    report.previews.append(_thumbnail(y, preview_max_side))
                del y
        if on_progress is not None:
            on_progress(i + 1, len(jobs), path)
    return report
