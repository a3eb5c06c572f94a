"""benchmarks/job_queue.py: the queue a lent GPU's runs go through."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

QUEUE = Path(__file__).resolve().parents[1] / "benchmarks" / "job_queue.py"


def run_queue(tmp_path: Path, lines: list[str], *args: str) -> str:
    jobs = tmp_path / "jobs.txt"
    jobs.write_text("\n".join(lines) + "\n")
    done = subprocess.run([sys.executable, str(QUEUE), str(jobs), "--logs", str(tmp_path / "logs"), *args],
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def test_lines_run_in_order_and_after_follows_each(tmp_path: Path) -> None:
    record = tmp_path / "order.txt"
    lines = [f"echo {i} >> {record}" for i in range(4)]
    out = run_queue(tmp_path, ["# a comment", *lines], "--jobs", "1",
                    "--after", f"echo after >> {record}")
    assert record.read_text().split() == ["0", "after", "1", "after", "2", "after", "3", "after"]
    assert (tmp_path / "logs" / "003.log").read_text().startswith(lines[3])
    assert "all done" in out


def test_kill_at_stops_a_line_with_its_children_and_starts_no_more(tmp_path: Path) -> None:
    survived, late = tmp_path / "survived", tmp_path / "late"
    # The line's shell starts a child of its own: stopping the shell alone would leave it running.
    lines = [f"(sleep 3; touch {survived}) & wait", f"touch {late}"]
    start = time.monotonic()
    out = run_queue(tmp_path, lines, "--jobs", "1", "--kill-at", "1")
    assert time.monotonic() - start < 3
    assert "stopping 0" in out and "1 lines not started" in out
    time.sleep(3)
    assert not survived.exists() and not late.exists()


def test_no_line_starts_when_the_longest_so_far_would_not_end_in_time(tmp_path: Path) -> None:
    started = tmp_path / "started"
    lines = ["sleep 2", f"touch {started}"]
    out = run_queue(tmp_path, lines, "--jobs", "1", "--kill-at", "3")
    assert "1 lines not started" in out
    assert not started.exists()
