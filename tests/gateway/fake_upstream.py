"""A stand-in for the services behind the gateway that records exactly what reaches it.

It answers auth's forward-auth check (`/internal/verify`) for a few fixed tokens, completes
WebSocket handshakes, and echoes every other request, so tests can see which headers the
gateway sent on, and whether a request got through at all.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# Any token with this prefix is valid: tests that count verifications take fresh ones, so
# that no answer cached for an earlier test gets in the way.
GOOD_TOKEN = "good-token"
# Makes the verify endpoint fail the way a broken auth service would.
BROKEN_TOKEN = "broken-token"
IDENTITY = {"X-User-Id": "user-1", "X-User-Role": "CLIENT", "X-User-Name": "alice"}
_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: list[tuple[str, str]]

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


class FakeUpstream:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                upstream._record(Seen(self.command, self.path, list(self.headers.items())))
                if self.path.startswith("/internal/verify"):
                    self._verify()
                elif self.headers.get("Upgrade", "").lower() == "websocket":
                    self._upgrade()
                else:
                    self._send(200, {"path": self.path})

            do_POST = do_PUT = do_DELETE = do_GET

            def _verify(self) -> None:
                token = _token(
                    self.headers.get("Authorization"), self.headers.get("X-Original-URI")
                )
                if token and token.startswith(GOOD_TOKEN):
                    self._send(200, None, IDENTITY)
                elif token == BROKEN_TOKEN:
                    self._send(500, {"error": "boom"})
                else:
                    body = {"error": {"code": "unauthorized", "message": "nope", "details": None}}
                    self._send(401, body, {"WWW-Authenticate": "Bearer"})

            def _upgrade(self) -> None:
                key = self.headers.get("Sec-WebSocket-Key", "")
                accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest())
                self.send_response(101)
                self.send_header("Upgrade", "websocket")
                self.send_header("Connection", "Upgrade")
                self.send_header("Sec-WebSocket-Accept", accept.decode())
                self.end_headers()
                self.close_connection = True

            def _send(
                self, status: int, body: object, headers: dict[str, str] | None = None
            ) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.seen.clear()

    def requests_to(self, path_prefix: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path.startswith(path_prefix)]

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)


def fresh_token() -> str:
    return f"{GOOD_TOKEN}-{uuid.uuid4().hex}"


def _token(authorization: str | None, original_uri: str | None) -> str | None:
    if authorization and authorization.startswith("Bearer "):
        return authorization.removeprefix("Bearer ")
    if original_uri:
        values = parse_qs(urlsplit(original_uri).query).get("token")
        return values[0] if values else None
    return None
