"""Run shell command lines from a file, N at a time, in the file's order.

A lent GPU's time is short and its speed unknown in advance, so a device
session's runs go through this queue: the most important lines first, no new
line started after ``--start-until`` seconds or when the longest line finished so
far would not end before ``--kill-at``, lines still running at ``--kill-at``
seconds stopped, and ``--after`` (a shell command, e.g. packing the results and
logs so far) run whenever a line finishes and every ``--after-every`` seconds, so
what was done comes back even if the session's time limit stops the rest.

    python benchmarks/job_queue.py jobs.txt --jobs 12 --start-until 420 --logs logs --after "..."
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import time
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("jobs_file", help="one shell command line per line ('#' lines are skipped)")
    p.add_argument("--jobs", type=int, default=4, help="lines run at a time")
    p.add_argument("--start-until", type=float, default=float("inf"),
                   help="start no line after this many seconds")
    p.add_argument("--kill-at", type=float, default=float("inf"),
                   help="stop the lines still running at this many seconds")
    p.add_argument("--logs", default="queue_logs", help="folder for each line's output")
    p.add_argument("--after", default="", help="shell command run whenever a line finishes")
    p.add_argument("--after-every", type=float, default=float("inf"),
                   help="also run --after every this many seconds")
    args = p.parse_args()
    lines = [s.strip() for s in Path(args.jobs_file).read_text().splitlines()]
    todo = [s for s in lines if s and not s.startswith("#")]
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    running: list[tuple[int, subprocess.Popen, float, object]] = []
    index = 0
    longest = 0.0  # of the lines finished so far
    last_after = start
    while todo or running:
        elapsed = time.monotonic() - start
        if todo and (elapsed > args.start_until or elapsed + longest > args.kill_at):
            print(f"[queue] {elapsed:.0f}s: {len(todo)} lines not started (time)", flush=True)
            todo = []
        while todo and len(running) < args.jobs:
            line = todo.pop(0)
            log = open(logs / f"{index:03d}.log", "w")  # closed when its line ends
            log.write(line + "\n")
            log.flush()
            proc = subprocess.Popen(line, shell=True, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)  # its own group: stopped with its children
            running.append((index, proc, time.monotonic(), log))
            print(f"[queue] {elapsed:.0f}s start {index}: {line}", flush=True)
            index += 1
        time.sleep(1.0)
        if time.monotonic() - start > args.kill_at:
            for i, proc, _, _ in running:
                if proc.poll() is None:
                    print(f"[queue] {time.monotonic() - start:.0f}s stopping {i} (time)", flush=True)
                    os.killpg(proc.pid, signal.SIGKILL)
            for _, proc, _, _ in running:
                proc.wait()
        for item in list(running):
            i, proc, began, log = item
            if proc.poll() is not None:
                running.remove(item)
                log.close()
                longest = max(longest, time.monotonic() - began)
                print(f"[queue] {time.monotonic() - start:.0f}s done {i} rc {proc.returncode} "
                      f"after {time.monotonic() - began:.0f}s", flush=True)
                if args.after:
                    subprocess.run(args.after, shell=True, check=False)
                    last_after = time.monotonic()
        if args.after and time.monotonic() - last_after > args.after_every:
            subprocess.run(args.after, shell=True, check=False)
            last_after = time.monotonic()
    print(f"[queue] all done in {time.monotonic() - start:.0f}s", flush=True)


if __name__ == "__main__":
    main()
