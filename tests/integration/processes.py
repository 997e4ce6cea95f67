"""What the drills share: the portal's own processes (gunicorn, manage.py) on the test
database, and a TCP relay in front of PostgreSQL that a drill can cut and restore."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from bench.serving import ROOT, django_env, free_port, gunicorn, running

__all__ = [
    "Relay",
    "celery_worker",
    "database_url",
    "free_port",
    "manage",
    "portal_env",
    "serve",
]


def database_url(
    *, host: str | None = None, port: int | None = None, name: str | None = None
) -> str:
    """The URL of the test database (as the test process sees it), or of another database or
    address on the same server."""
    params = connection.settings_dict
    user = params.get("USER") or "postgres"
    password = f":{params['PASSWORD']}" if params.get("PASSWORD") else ""
    return (
        f"postgres://{user}{password}@{host or params.get('HOST') or '127.0.0.1'}:"
        f"{port or params.get('PORT') or 5432}/{name or params['NAME']}"
    )


def portal_env(db_url: str, **extra: str) -> dict[str, str]:
    """The environment of a portal process of a drill: production settings on loopback (the
    benchmarks' settings), the given database, no Redis unless `extra` names one, and the
    test process's secret and checkpoint keys, so sessions made by the test are valid there
    and both sides verify the same signatures."""
    env = django_env(db_url, extra.pop("REDIS_URL", ""))
    env["SECRET_KEY"] = settings.SECRET_KEY
    env["HMS_LEDGER_CHECKPOINT_KEY"] = settings.HMS_LEDGER_CHECKPOINT_KEY
    env.update(extra)
    return env


def manage(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`manage.py <args>` in a process of its own; the caller reads its exit code and output."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@contextlib.contextmanager
def serve(env: dict[str, str], log: Path, *, workers: int = 1) -> Iterator[int]:
    """gunicorn on a free loopback port for the duration of the block; yields the port."""
    with gunicorn(env, log, workers) as port:
        yield port


@contextlib.contextmanager
def celery_worker(env: dict[str, str], log: Path, name: str, *, beat: bool) -> Iterator[None]:
    """A Celery worker process (solo pool; with the beat scheduler inside when `beat`) for the
    duration of the block, ready once it says so in its log."""
    command = [
        sys.executable, "-m", "celery", "-A", "hms_portal", "worker", "--pool", "solo",
        "--loglevel", "INFO", "--hostname", f"{name}@drill", "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    if beat:
        command += ["--beat", "--schedule", str(log.with_suffix(".beat"))]

    def ready() -> bool:
        return log.exists() and " ready." in log.read_text(errors="replace")

    with running(command, env, log, what=name, is_ready=ready):
        yield


class Relay:
    """A TCP relay from a loopback port to `target`: `cut()` closes the listening socket and
    every relayed connection (a database that went away: new connections are refused, open
    ones are dropped); `restore()` listens on the same port again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    def __enter__(self) -> Relay:
        self.restore()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cut()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._open = self._open, set()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
