"""The outbox channel: every notification one JSON line appended to a file.

Nothing leaves the machine: tests, the demo and a developer read the file
(:func:`read_outbox`) where a real channel would have sent an SMS, a push or an e-mail.
Each line is ``{"to": …, "text": …, "at": …, "kind": …, "id": …, "key": …}`` (plus
``title``, ``image``, ``buttons``, ``data`` and ``collapse`` when the notification has
them), UTF-8, Cyrillic as is. **One key is one line in the file**, whichever process or
channel object sends it: as a provider that honours idempotency keys, a key already in the
file answers with its first message's id and writes nothing (the runner re-sends a push
with its key after a SIGKILL; a fleet's outbox must not show it twice). Each object keeps
the keys it has read and, under the lock, reads only what others appended since.

Several processes (a fleet of runners) may append to one file at once. Each message is
written by one ``os.write`` of the whole line on an ``O_APPEND`` descriptor, which the
kernel places at the end of the file as a unit, under an advisory ``flock`` so that even a
short write (a full disk) is finished before another writer's line starts: lines never
interleave. The recipient is personal data: nothing here logs it or puts it in an error.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pes_sdk.errors import FormatError
from pes_sdk.files import file_mode
from pes_sdk.notifications import (
    ChannelUnavailable,
    Notification,
    NotificationChannel,
    SendResult,
    SentKeys,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: O_APPEND alone keeps lines whole
    fcntl = None  # type: ignore[assignment]

__all__ = ["KINDS", "OutboxChannel", "read_outbox"]

#: What the outbox carries: every kind, since it sends nothing anywhere.
KINDS: tuple[str, ...] = ("sms", "email", "push")


class OutboxChannel(NotificationChannel):
    """Appends each notification to ``path`` as one JSON line."""

    name = "outbox"

    def __init__(self, path: Path | str, *, kinds: tuple[str, ...] = KINDS) -> None:
        self.path = Path(path)
        self.kinds = tuple(kinds)
        self._sent = SentKeys()
        #: the keys in the file as far as it was read (``_read_upto`` bytes): key → answer
        self._keys: dict[str, SendResult] = {}
        self._read_upto = 0
        self._file_id: tuple[int, int] | None = None

    def __repr__(self) -> str:
        return f"OutboxChannel({str(self.path)!r})"

    def send(self, notification: Notification) -> SendResult:
        self.check_kind(notification)
        # as a real channel: one key is one line, however often this object is asked
        return self._sent.send_once(notification.key, lambda: self._write(notification))

    def _write(self, notification: Notification) -> SendResult:
        accepted_at = dt.datetime.now(dt.UTC)
        message_id = uuid.uuid4().hex
        record: dict[str, Any] = {
            "to": notification.to,
            "text": notification.text,
            "at": accepted_at.isoformat(),
            "kind": notification.kind,
            "id": message_id,
            "key": notification.key,
        }
        # what a push or an e-mail carries besides the text, only when it is there
        if notification.title:
            record["title"] = notification.title
        if notification.image:
            record["image"] = notification.image
        if notification.buttons:
            record["buttons"] = [{"label": b.label, "url": b.url} for b in notification.buttons]
        if notification.data:
            record["data"] = dict(notification.data)
        if notification.collapse:
            record["collapse"] = notification.collapse
        line = json.dumps(record, ensure_ascii=False) + "\n"
        try:
            return self._append_once(
                notification.key, line.encode("utf-8"), SendResult(message_id, accepted_at)
            )
        except OSError as exc:
            # the path names no person; the recipient stays out of the message
            raise ChannelUnavailable(
                f"cannot append to {self.path}: {exc.strerror or exc}", channel=self.name
            ) from exc

    def _append_once(self, key: str, data: bytes, result: SendResult) -> SendResult:
        """Append ``data`` unless the file holds ``key`` already (then its first answer)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = _open_append(self.path)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            self._catch_up(fd)
            known = self._keys.get(key)
            if known is not None:
                return known
            written = os.write(fd, data)
            # A short write happens only when the disk fills up; the lock keeps other
            # writers out until this line is whole (or the error is raised).
            while written < len(data):
                written += os.write(fd, data[written:])
            self._keys[key] = result
            self._read_upto += len(data)
            return result
        finally:
            os.close(fd)  # closing releases the flock too

    def _catch_up(self, fd: int) -> None:
        """Learn the keys of the lines appended since this object last read (the lock held)."""
        info = os.fstat(fd)
        file_id = (info.st_dev, info.st_ino)
        if file_id != self._file_id or info.st_size < self._read_upto:
            # a new file (the first look, or the old one rotated away): read it whole
            self._keys.clear()
            self._read_upto = 0
            self._file_id = file_id
        offset = self._read_upto
        pending = b""
        while offset < info.st_size:
            chunk = os.pread(fd, min(1 << 20, info.st_size - offset), offset)
            if not chunk:
                break
            offset += len(chunk)
            *lines, pending = (pending + chunk).split(b"\n")
            for raw in lines:
                self._learn(raw)
        self._read_upto = offset - len(pending)

    def _learn(self, raw: bytes) -> None:
        try:
            record = json.loads(raw)
        except ValueError:  # not the channel's line (a hand edit): no key to keep
            return
        if isinstance(record, dict) and isinstance(record.get("key"), str):
            try:
                at = dt.datetime.fromisoformat(str(record.get("at")))
                answer = SendResult(str(record.get("id")), at)
            except (TypeError, ValueError):  # a hand-edited line: the key is what counts
                answer = SendResult(str(record.get("id") or "outbox"), dt.datetime.now(dt.UTC))
            self._keys.setdefault(record["key"], answer)


def _open_append(path: Path) -> int:
    """A descriptor appending to ``path``; a file it creates gets the kit's file mode."""
    # read too: the keys already in the file are read under the same lock (pread)
    flags = os.O_RDWR | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
    mode = file_mode()
    for _ in range(3):
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            pass
        else:
            try:
                os.fchmod(fd, mode)  # the mode the docs promise, not the umask's
            except BaseException:
                os.close(fd)
                raise
            return fd
        try:
            # an existing file keeps the mode its operator gave it
            return os.open(path, flags)
        except FileNotFoundError:
            continue  # removed (rotated) between the two opens: create it again
    return os.open(path, flags | os.O_CREAT, mode)


def read_outbox(path: Path | str) -> Iterator[dict[str, Any]]:
    """Every message in the outbox file, oldest first, as the dicts the channel wrote.

    A file that does not exist yet holds no messages. A line that is not a JSON object
    raises :class:`~pes_sdk.errors.FormatError` naming its line.
    """
    path = Path(path)
    try:
        fh = path.open(encoding="utf-8")
    except FileNotFoundError:
        return
    with fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise FormatError(f"not JSON: {exc.msg}", path=path, line=number) from None
            if not isinstance(record, dict):
                raise FormatError("not a JSON object", path=path, line=number)
            yield record
