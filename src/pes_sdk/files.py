"""Writing files so that a reader never sees half of one.

A file is written under a temporary name in the same folder, flushed and fsynced, then
renamed over its final name and the folder fsynced: after a crash there is either the old
file, or the new one, never a partial file under the final name.

Every file written so ends with the permissions of :func:`file_mode`: ``0640`` by
default (owner reads and writes, its group reads), so that a pickup over SFTP or Samba,
or a 1C under another account in the service's group, can read a registry; a temporary
file alone would be ``0600``. ``PES_FILE_MODE`` (octal, e.g. ``0644`` or ``0600``) sets
another for the whole process.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pes_sdk.errors import ConfigError
from pes_sdk.i18n import tr

__all__ = ["DEFAULT_FILE_MODE", "FILE_MODE_ENV", "atomic_path", "file_mode", "fsync_dir"]

#: The permissions of every file the kit writes, unless ``PES_FILE_MODE`` says otherwise.
DEFAULT_FILE_MODE = 0o640
FILE_MODE_ENV = "PES_FILE_MODE"


def file_mode() -> int:
    """The permissions written files get: ``PES_FILE_MODE`` (octal) or ``0640``."""
    text = os.environ.get(FILE_MODE_ENV, "").strip()
    if not text:
        return DEFAULT_FILE_MODE
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777:
        raise ConfigError(
            tr(
                "{name}={text!r}: an octal file mode such as 0640 or 0600 is expected",
                name=FILE_MODE_ENV,
                text=text,
            )
        )
    return mode


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(final: Path | str, *, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; on success it becomes ``final`` atomically.

    ``final`` gets the permissions ``mode`` (default :func:`file_mode`). If the block
    raises, the temporary file is removed and ``final`` is left as it was.
    """
    final = Path(final)
    permissions = file_mode() if mode is None else mode
    folder = final.parent if str(final.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fchmod(fh.fileno(), permissions)  # not the umask's: what the docs promise
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        fsync_dir(folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
