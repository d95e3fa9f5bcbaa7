"""One run at a time per results directory: two runs on one directory would pay for every call twice.

The lock is an advisory `flock` on `<dir>/.judge.lock`, held for the whole run. The kernel drops it when its
process ends in any way (even `kill -9`), so a lock left by a dead run is simply taken over by the next one;
the file also names the holder (pid, host, config, since when) so the run that finds it taken can say who.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from judge.errors import RunLocked, StoreError

LOCK_NAME = ".judge.lock"


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a results directory's lock."""

    pid: int
    host: str
    since: str  # ISO 8601, UTC
    what: str  # e.g. "judge run t.yaml"

    def describe(self) -> str:
        return f"{self.what} (pid {self.pid} on {self.host}, since {self.since})"


def _read_holder(fd: int) -> Holder | None:
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        return Holder(int(data["pid"]), str(data["host"]), str(data["since"]), str(data["what"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # empty (a holder that just started, or one that finished) or unreadable


@contextlib.contextmanager
def hold(
    directory: str | Path,
    what: str,
    *,
    wait: bool = False,
    on_wait: Callable[[Holder | None], None] | None = None,
    poll_s: float = 0.2,
) -> Iterator[Holder]:
    """Hold the directory's lock for the `with` block; RunLocked if taken (with `wait`: once it is free)."""
    path = Path(directory) / LOCK_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the results lock ({exc.strerror or exc})") from exc
    try:
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _read_holder(fd)
                if not wait:
                    who = holder.describe() if holder else "another judge run"
                    raise RunLocked(
                        f"{directory}: results directory in use by {who}",
                        hint="wait for it to finish, or pass --wait to start when it does",
                    ) from None
                if not told and on_wait is not None:
                    on_wait(holder)
                    told = True
                time.sleep(poll_s)
        me = Holder(os.getpid(), socket.gethostname(), datetime.now(UTC).isoformat(timespec="seconds"), what)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(me.__dict__).encode("utf-8"), 0)
        except OSError as exc:
            raise StoreError(f"{path}: cannot write the results lock ({exc.strerror or exc})") from exc
        try:
            yield me
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # released: nobody holds it
    finally:
        os.close(fd)  # closing drops the flock
