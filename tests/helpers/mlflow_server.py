"""A real ``mlflow server`` on 127.0.0.1, started for a test and always stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def mlflow_server(backend_store_uri: str, artifacts: Path, *, timeout: float = 120, log: Path | None = None) -> Iterator[str]:
    """Serve ``backend_store_uri`` (artifacts under ``artifacts``) until the block ends; yields its URL.

    Waits until ``/health`` answers. The server runs in its own process group, so stopping it
    also stops the web workers it started.
    """
    port = free_port()
    out = open(log, "wb") if log is not None else subprocess.DEVNULL
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", backend_store_uri, "--artifacts-destination", str(artifacts), "--workers", "1"],
        stdout=out, stderr=subprocess.STDOUT if log is not None else subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"mlflow server did not start on port {port}") from None
                time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            # Uvicorn's graceful shutdown can wait on a client's idle keep-alive connection.
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        if log is not None:
            out.close()
