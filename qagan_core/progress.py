"""A dependency-free text progress bar for the CLI, and the one way durations are written
(the CLI's bar and the Train node's status text)."""

from __future__ import annotations

import sys
import time


def format_duration(seconds: float) -> str:
    """A duration for people: ``42 s``, ``4 min 12 s``, ``2 h 05 min`` (rounded to the second)."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class TextProgress:
    """``[#####.....] 12/100 3.10 s/it eta 4 min 12 s  extra`` on one refreshed stderr line."""

    def __init__(self, total: int, label: str, width: int = 30, stream=None) -> None:
        self.total = max(1, total)
        self.label = label
        self.width = width
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.done = 0
        self.first = 0

    def update(self, done: int, extra: str = "", total: int | None = None) -> None:
        """``total``: a new estimate of the total (a time budget's steps)."""
        if total is not None:
            self.total = max(1, total, done)
        if self.done == 0 and done > 0:
            self.first = done - 1
        self.done = done
        elapsed = time.monotonic() - self.start
        rate = elapsed / max(1, done - self.first)
        eta = rate * (self.total - done)
        filled = int(self.width * done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        line = (f"\r{self.label} [{bar}] {done}/{self.total} {rate:.2f} s/it "
                f"eta {format_duration(eta)} {extra}")
        self.stream.write(line[:160].ljust(80))
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()
