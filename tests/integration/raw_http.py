"""HTTP/1.1 over a plain socket, for requests no client library sends: headers that announce a body that never
comes, foreign ``Host`` or ``Origin`` values on a websocket upgrade."""

from __future__ import annotations

import socket
from dataclasses import dataclass


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]  # lower-case names; the last value of a repeated header
    body: bytes


def send_head(
    port: int, method: str, path: str, headers: dict[str, str], body: bytes = b'', timeout: float = 20.0
) -> RawResponse:
    """Send the request line, ``headers`` and ``body`` (possibly shorter than announced), read one response.

    Raises ``TimeoutError`` when the server does not answer within ``timeout`` seconds. The default leaves room for
    a server that several tests share and that is still at the work an earlier one left: after 300 dropped asset
    fetches (``test_perimeter.py``) the next request waited about 1 s on an idle machine, and more than 5 s (the old
    default) once in a ``make test`` with the other core kept busy.
    """
    lines = [f'{method} {path} HTTP/1.1', *(f'{name}: {value}' for name, value in headers.items()), '', '']
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as sock:
        sock.sendall('\r\n'.join(lines).encode('latin-1') + body)
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b'\r\n\r\n')
        status_line, *header_lines = head.decode('latin-1').split('\r\n')
        parsed = {}
        for line in header_lines:
            name, _, value = line.partition(':')
            parsed[name.strip().lower()] = value.strip()
        length = int(parsed.get('content-length', '0') or 0)
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return RawResponse(int(status_line.split()[1]), parsed, rest[:length])
