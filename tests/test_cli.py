"""The servers `fedlab demo` starts (werkzeug's), seen from a socket."""

from __future__ import annotations

import gc
import socket
import struct
import time
import warnings

from webapp import cli

from .conftest import free_port


def drop_after_headers(port: int, path: str) -> None:
    """Ask for ``path``, read the start of the answer, then reset the connection,
    as a browser does with a favicon or a page it has navigated away from."""
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        client.recv(64)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_a_static_file_is_closed_when_the_browser_drops_the_connection(app):
    """werkzeug's server skips closing the body when draining the socket fails; an
    open file left to the garbage collector is a ResourceWarning (an error here)."""
    port = free_port()
    server = cli.serve(f"http://127.0.0.1:{port}", app)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(20):
                drop_after_headers(port, "/static/favicon.svg")
                time.sleep(0.02)
            time.sleep(0.2)
            gc.collect()
    finally:
        server.shutdown()
        server.server_close()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert unclosed == []
