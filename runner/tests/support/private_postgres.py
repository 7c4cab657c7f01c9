"""A private PostgreSQL cluster for tests that stop or restart the server.

The machine's shared server (``PES_TEST_POSTGRES_URL``, 127.0.0.1:5432) is used by every
test run at once: a failover test must never restart it. This one is a cluster of its own
(``initdb`` into a temporary directory), on a free port of ``127.0.0.1``, trust
authentication, small buffers and ``fsync`` on (a restart must lose nothing committed, as
on a real server). ``initdb`` and ``postgres`` refuse to run as root: as root (CI) they run
as the ``postgres`` user (``runuser``), which owns the directory.

:func:`binaries` finds the server's programs (``PES_TEST_PG_BIN``, else the newest of
``/usr/lib/postgresql/*/bin``, else ``initdb`` on the PATH); None when there are none.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["PrivateCluster", "binaries"]

#: How long a start, stop or ``initdb`` may take before the test gives up on it.
TIMEOUT = 60


def binaries() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl``, or None when the server is not installed."""
    given = os.environ.get("PES_TEST_PG_BIN")
    if given:
        return Path(given) if (Path(given) / "pg_ctl").exists() else None
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PrivateCluster:
    """``initdb`` on construction; :meth:`start`, :meth:`stop`, :meth:`restart`, :meth:`remove`.

    :attr:`url` is a libpq URL of its ``postgres`` database as the ``postgres`` user.
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="pes-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        # root: the programs run as the postgres user, who must own the directory
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",  # initdb's own files only: the server runs with fsync on
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "shared_buffers": "'16MB'",
            "max_connections": "60",
            "fsync": "on",
            "synchronous_commit": "on",
            "log_min_messages": "warning",
        }
        with open(self.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.writelines(f"{k} = {v}\n" for k, v in settings.items())

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as, str(self.bin / program), *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        if done.returncode:
            tail = self.log.read_text("utf-8")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{program} {' '.join(args)}: {done.stdout}{done.stderr}{tail}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        self._run(
            "pg_ctl", "start", "-w", "-t", str(TIMEOUT), "-D", str(self.data), "-l", str(self.log)
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` ends every session (a failover's old primary going
        away), ``immediate`` is a crash (no shutdown checkpoint)."""
        self._run("pg_ctl", "stop", "-w", "-t", str(TIMEOUT), "-m", mode, "-D", str(self.data))

    def restart(self, down: float = 0.0) -> float:
        """Stop (fast), stay down ``down`` seconds, start again; the outage in seconds
        (from the stop's start to the server accepting connections again)."""
        began = time.monotonic()
        self.stop("fast")
        time.sleep(down)
        self.start()
        return time.monotonic() - began

    def remove(self) -> None:
        """Stop the server at once (if it runs) and delete its directory."""
        if (self.data / "postmaster.pid").exists():
            # the directory goes anyway
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
