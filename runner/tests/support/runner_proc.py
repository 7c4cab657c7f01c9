"""The real ``pes runner`` as a subprocess: configuration, one-shot commands, ``serve``, ``worker``.

Used by the crash tests (the process must be a real one so that SIGKILL ends it for real),
by the CLI and scheduler tests of ``serve`` (stopped by a real signal), and by the job
engine's tests of ``worker`` processes and whole fleets (:func:`workers`, or :func:`spawn`
and :func:`terminate` for a process a test restarts itself). The configuration is the
example one with its data folder (and, if given, its store URL and [daemon] settings)
replaced.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from http_client import request
from pes_sdk_runner.config import RunnerConfig, example_config_path, load_runner_config
from pes_sdk_runner.crashpoints import ENV_VAR

from pes_sdk.plugins.manager import PluginHost

CLIENT = "client-token-0123456789abcdef"
OPERATOR = "operator-token-0123456789abcdef"
#: The sandbox acquirer's secrets, for a configuration that points the gateway at one.
SANDBOX_API_KEY = "crash-key"
SANDBOX_WEBHOOK_SECRET = "crash-secret"
ENV = {
    "PES_CLIENT_TOKENS": CLIENT,
    "PES_OPERATOR_TOKENS": OPERATOR,
    "PES_SANDBOX_API_KEY": SANDBOX_API_KEY,
    "PES_SANDBOX_WEBHOOK_SECRET": SANDBOX_WEBHOOK_SECRET,
}
PES = Path(sys.executable).parent / "pes"
#: How long any one command may take before the test gives up on it.
TIMEOUT = 60


def write_config(
    folder: Path,
    store_url: str | None = None,
    replace: Mapping[str, str] | None = None,
    *,
    daemon: str = "",
) -> Path:
    """The example configuration, its data in ``folder/data`` and its store at ``store_url``.

    ``replace`` maps text of the example to its replacement (each must be there); each line
    ``key = value`` of ``daemon`` replaces that key's line of the example's [daemon] table.
    """
    text = example_config_path().read_text(encoding="utf-8")
    edits = {'data = "data"': f"data = {json.dumps(str(folder / 'data'))}"}
    if store_url is not None:
        edits['url = "sqlite:///pes.db"'] = f"url = {json.dumps(store_url)}"
    edits.update(replace or {})
    for old, new in edits.items():
        assert old in text, old
        text = text.replace(old, new)
    for line in daemon.splitlines():
        # The example's [daemon] table sets every key: each given one replaces its line.
        key = line.split("=", 1)[0].strip()
        text, found = re.subn(rf"^{key} = [^\n]*", line, text, count=1, flags=re.M)
        assert found == 1, key
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "runner.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_of(path: Path, host: PluginHost | None = None) -> RunnerConfig:
    return load_runner_config(path, host, env=ENV)


def _env(crash_at: str | None) -> dict[str, str]:
    env = {**os.environ, **ENV}
    env.pop(ENV_VAR, None)
    if crash_at is not None:
        env[ENV_VAR] = crash_at
    return env


def pes_runner(
    args: Sequence[str], *, crash_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``pes runner ARGS`` to its end (or its death) and return what it did."""
    return subprocess.run(
        [str(PES), "runner", *args],
        capture_output=True,
        text=True,
        env=_env(crash_at),
        timeout=TIMEOUT,
        check=False,
    )


def killed(proc: subprocess.CompletedProcess[str] | subprocess.Popen[str]) -> bool:
    """Whether the process died of SIGKILL (and nothing else)."""
    return proc.returncode == -signal.SIGKILL


def spawn(
    args: Sequence[str],
    log: Path,
    *,
    crash_at: str | None = None,
    stdout: int = subprocess.DEVNULL,
) -> subprocess.Popen[str]:
    """``pes runner ARGS`` started, its stderr appended to the file ``log`` (a file, not a
    pipe: the runner's log must never block it); ``crash_at`` arms a crash point in it."""
    with open(log, "a", encoding="utf-8") as err:
        return subprocess.Popen(
            [str(PES), "runner", *args],
            stdout=stdout,
            stderr=err,
            text=True,
            env=_env(crash_at),
        )


def terminate(*procs: subprocess.Popen[str], patience: float = 30) -> None:
    """SIGTERM to each of ``procs`` still running, all at once, then wait for each (SIGKILL
    after ``patience`` seconds); a stdout pipe is closed. Their return codes tell how they
    ended (0: a clean stop)."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=patience)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None and not proc.stdout.closed:
            proc.stdout.close()


class Served:
    """A running ``pes runner serve``: its base URL, a JSON client for its API, its output."""

    def __init__(self, proc: subprocess.Popen[str], base: str, log: Path) -> None:
        self.proc = proc
        self.base = base
        self.log = log

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        token: str = CLIENT,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        answer = request(self.base, method, path, body, token=token, headers=headers, timeout=10)
        return answer.status, json.loads(answer.body or b"null")

    def health(self, timeout: float = 20) -> Any:
        """``/healthz``'s answer, waited for while the process lives (it may be starting)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as answer:
                    return json.loads(answer.read())
            except OSError:
                assert self.proc.poll() is None, self.log.read_text(encoding="utf-8")
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.05)

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> tuple[str, str]:
        """Send ``sig`` and wait for the end (SIGKILL after 20 s): stdout after its first
        line, and the log (stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, _ = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate(timeout=10)
        return out or "", self.log.read_text(encoding="utf-8")

    def wait_killed(self, timeout: float = 20) -> bool:
        """Wait for the process to end; whether SIGKILL ended it."""
        self.proc.wait(timeout=timeout)
        return killed(self.proc)


@contextmanager
def serving(config: Path, log: Path, *more: str, crash_at: str | None = None) -> Iterator[Served]:
    """``pes runner serve`` on a free port, answering ``/healthz``, until the block ends.

    ``more`` are further options of ``serve``; stderr goes to the file ``log``. A process
    still running at the end gets SIGTERM (then SIGKILL); :meth:`Served.stop` ends it
    earlier, with a signal of the test's choice.
    """
    proc = spawn(
        ["serve", "--config", str(config), "--port", "0", *more],
        log,
        crash_at=crash_at,
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # printed once the socket is bound
        match = re.search(r"serving on (http://127\.0\.0\.1:\d+)", first)
        assert match is not None, first + log.read_text(encoding="utf-8")
        served = Served(proc, match[1], log)
        served.health()
        yield served
    finally:
        terminate(proc, patience=20)


@contextmanager
def workers(
    config: Path,
    folder: Path,
    *ids: str,
    crash_at: str | None = None,
    more: Sequence[str] = (),
) -> Iterator[list[subprocess.Popen[str]]]:
    """``pes runner worker --id ID [MORE]`` for each id (stderr to ``folder/ID.log``), all
    stopped together by SIGTERM (then SIGKILL) at the end; ``crash_at`` arms a crash point
    in each."""
    procs: list[subprocess.Popen[str]] = []
    try:
        for wid in ids:
            args = ["worker", "--config", str(config), "--id", wid, *more]
            procs.append(spawn(args, folder / f"{wid}.log", crash_at=crash_at))
        yield procs
    finally:
        terminate(*procs)


@contextmanager
def worker(
    config: Path,
    folder: Path,
    wid: str,
    *,
    crash_at: str | None = None,
    more: Sequence[str] = (),
) -> Iterator[subprocess.Popen[str]]:
    """One of :func:`workers`: ``pes runner worker --id WID``, its stderr in
    ``folder/WID.log``."""
    with workers(config, folder, wid, crash_at=crash_at, more=more) as procs:
        yield procs[0]


def wait_started(folder: Path, wid: str, proc: subprocess.Popen[str], patience: float) -> None:
    """Until the worker's engine runs (its system database exists to queue into)."""
    deadline = time.monotonic() + patience
    while '"jobs.started"' not in (folder / f"{wid}.log").read_text(encoding="utf-8"):
        assert proc.poll() is None, f"{wid} ended ({proc.returncode}) before it started"
        assert time.monotonic() < deadline, f"{wid} did not start"
        time.sleep(0.2)


def outbox_lines(config: RunnerConfig) -> list[dict[str, object]]:
    """What the configuration's ``outbox`` notification channel has written, in order."""
    from pes_sdk_outbox import read_outbox

    channel = config.notifications.channel("outbox")
    assert channel is not None
    path = Path(channel.adapter.settings["path"])
    return list(read_outbox(path)) if path.exists() else []
