"""Several real processes append to one outbox at once, and every line stays whole."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

PROCESSES = 4
MESSAGES = 250

# Each writer waits for the go file, so that all of them append at the same time. The
# text is long and Cyrillic (about 2 KB a line), so a line written in pieces would show.
WRITER = """
import os, sys, time
from pathlib import Path
from pes_sdk.notifications import Notification
from pes_sdk_outbox import OutboxFactory

path, go, ready, worker, count = sys.argv[1:6]
channel = OutboxFactory().create({"path": path})
Path(ready).touch()
deadline = time.monotonic() + 60
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("no go")
    time.sleep(0.001)
for i in range(int(count)):
    text = f"{worker}:{i}:" + "Код подтверждения платежа " * 36
    channel.send(Notification(kind="sms", to=f"+7916{worker:0>7}", text=text[:1000]))
"""


def test_concurrent_processes_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "outbox" / "sms.jsonl"
    go = tmp_path / "go"
    procs = []
    for worker in range(PROCESSES):
        ready = tmp_path / f"ready-{worker}"
        procs.append(
            (
                ready,
                subprocess.Popen(
                    [sys.executable, "-c", WRITER, str(path), str(go), str(ready), str(worker),
                     str(MESSAGES)],
                    stderr=subprocess.PIPE,
                ),
            )
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while not all(ready.exists() for ready, _ in procs):
        assert time.monotonic() < deadline, "writers did not start"
        assert all(p.poll() is None for _, p in procs), [p.stderr for _, p in procs]
        time.sleep(0.01)
    go.touch()
    for _, proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()

    raw = path.read_bytes()
    lines = raw.decode("utf-8").split("\n")
    assert lines[-1] == ""  # the file ends with a whole line
    seen = set()
    for line in lines[:-1]:
        record = json.loads(line)  # a torn or interleaved line would not parse
        worker, i, _ = record["text"].split(":", 2)
        assert record["to"] == f"+7916{worker:0>7}"
        seen.add((int(worker), int(i)))
    assert len(lines) - 1 == PROCESSES * MESSAGES
    assert seen == {(w, i) for w in range(PROCESSES) for i in range(MESSAGES)}
