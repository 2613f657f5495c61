"""A TCP proxy on loopback that can cut every connection, refuse new ones, or freeze (stop
forwarding while keeping connections open), like hellocode-sdk/tests/integration/proxy.rs."""

from __future__ import annotations

import socket
import threading
from typing import Optional


class Proxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._down = False
        self._flowing = threading.Event()
        self._flowing.set()
        # Set when bytes arrive while the proxy is frozen: a test waits on it to know that
        # what the client sent has left the client (and is held here).
        self.holding = threading.Event()
        self._closed = False
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                if self._down or self._closed:
                    client.close()
                    continue
            try:
                upstream = socket.create_connection(self._upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
                self.connections += 1
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if not self._flowing.is_set():
                    self.holding.set()
                self._flowing.wait()
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._close_pair(source, sink)

    def _close_pair(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
            with self._lock:
                if sock in self._open:
                    self._open.remove(sock)

    def cut_all(self) -> None:
        """Cut every open connection (the client sees the connection drop)."""
        with self._lock:
            sockets = list(self._open)
        self._close_pair(*sockets)

    def set_down(self, down: bool) -> None:
        """Refuse new connections and cut the open ones (True), or accept again (False)."""
        with self._lock:
            self._down = down
        if down:
            self.cut_all()

    def freeze(self, frozen: bool = True) -> None:
        """Stop forwarding bytes while keeping connections open (a silent network)."""
        if frozen:
            self.holding.clear()
            self._flowing.clear()
        else:
            self._flowing.set()

    def close(self, timeout: Optional[float] = None) -> None:
        with self._lock:
            self._closed = True
        self._flowing.set()
        self._listener.close()
        self.cut_all()
