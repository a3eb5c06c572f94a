"""Durations are written one way (qagan_core.progress.format_duration) by the CLI's bar and the nodes."""

from __future__ import annotations

import io

import pytest

from qagan_core import progress
from qagan_core.progress import TextProgress, format_duration


@pytest.mark.parametrize("seconds, text", [
    (0, "0 s"), (-3, "0 s"), (59.4, "59 s"), (59.6, "1 min 00 s"), (252, "4 min 12 s"),
    (3599, "59 min 59 s"), (3600, "1 h 00 min"), (7500, "2 h 05 min"),
])
def test_format_duration(seconds, text) -> None:
    assert format_duration(seconds) == text


def test_the_bar_gives_the_time_left_in_the_same_words(monkeypatch) -> None:
    clock = iter([100.0, 104.2])  # started; 4.2 s later, after step 1 of 61: 252 s left
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    out = io.StringIO()
    bar = TextProgress(61, "train", width=10, stream=out)
    bar.update(1, "G 1.0")
    assert "1/61 4.20 s/it eta 4 min 12 s G 1.0" in out.getvalue()
