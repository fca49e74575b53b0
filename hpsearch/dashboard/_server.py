"""optuna-dashboard on a study storage: its WSGI app served by threads, and the study page's URL."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from hpsearch.errors import UsageError
from hpsearch.store import load_study, mask_url, open_storage, resolve_artifacts_dir, storage_id

log = logging.getLogger("hpsearch.dashboard")


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


def _url_host(host: str) -> str:
    """The host part of a URL to open: a wildcard address becomes the loopback one."""
    shown = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, host)
    return f"[{shown}]" if ":" in shown and not shown.startswith("[") else shown


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Dashboard:
    """A bound optuna-dashboard: ``serve_forever`` blocks (until Ctrl-C), ``serve_in_thread`` does not."""

    server: WSGIServer
    url: str
    storage: str
    artifacts_dir: Path
    study_url: str | None = None
    _thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        self.server.serve_forever(poll_interval=0.5)

    def serve_in_thread(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.serve_forever, name="hpsearch-dashboard", daemon=True)
        self._thread.start()
        return self._thread

    def close(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(timeout=5)
        self.server.server_close()


def study_page_url(base_url: str, study_id: int) -> str:
    """optuna-dashboard's page of one study."""
    return f"{base_url.rstrip('/')}/studies/{study_id}"


def start_dashboard(
    storage_url: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    artifacts_dir: Path | None = None,
    study: str | None = None,
) -> Dashboard:
    """Bind optuna-dashboard (its WSGI app, served by threads) on the storage and artifact store.

    Args:
        storage_url: The study storage (SQLite or PostgreSQL).
        host: Address to bind; the dashboard has no login, so the loopback address is the default.
        port: Port to bind; 0 picks a free one (``url`` tells which).
        artifacts_dir: The workers' artifact folder; default as :func:`resolve_artifacts_dir`.
        study: A study whose page URL to give as ``study_url``.

    Raises:
        StorageError, StudyNotFoundError: the storage or the study does not exist.
        UsageError: the port is out of range, or the address cannot be bound.
    """
    import optuna_dashboard
    from optuna.artifacts import FileSystemArtifactStore

    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be 0 (any free port) or 1 to 65535, but got {port}.")
    storage = open_storage(storage_url, read_only=True)
    study_id = storage_id(load_study(storage, study)[0]) if study is not None else None
    directory = resolve_artifacts_dir(storage_url, artifacts_dir)
    app = optuna_dashboard.wsgi(storage, artifact_store=FileSystemArtifactStore(directory))
    server_class = _Server6 if ":" in host else _Server
    try:
        server = make_server(host, port, app, server_class=server_class, handler_class=_QuietHandler)
    except OSError as e:
        reason = e.strerror or str(e)
        raise UsageError(f"cannot listen on {host}:{port} ({reason}); choose another --port or --host.") from None
    base = f"http://{_url_host(host)}:{server.server_port}/dashboard"
    return Dashboard(
        server=server,
        url=base,
        storage=mask_url(storage_url),
        artifacts_dir=directory,
        study_url=study_page_url(base, study_id) if study_id is not None else None,
    )
