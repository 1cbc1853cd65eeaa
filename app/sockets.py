"""The server's listening sockets set to send at once (TCP_NODELAY), which Streamlit 1.67 leaves off.

Streamlit binds its own socket (`socket.socket(family)`, protocol 0), and asyncio only turns
Nagle's algorithm off on sockets whose protocol reads IPPROTO_TCP, so every connection the server
accepts keeps it on. A response is written as headers then body: on a kept-alive connection
the body waits for the browser's delayed ACK of the headers, 40 ms on Linux, for every
JavaScript chunk and many websocket frames. A cold browser fetches about a hundred chunks six
at a time, queued behind each other: measured, the KPI tile's chunk was requested 0.7 s before
it was sent. Linux gives an accepted socket the listening socket's TCP_NODELAY, so setting it on
the listening sockets once (the server's start-up step) covers every connection.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

_OPEN_FILES = Path("/proc/self/fd")


def send_at_once() -> int:
    """Set TCP_NODELAY on this process's listening TCP sockets; how many. Nothing where the
    process's open files cannot be listed (not Linux)."""
    count = 0
    for name in os.listdir(_OPEN_FILES) if _OPEN_FILES.is_dir() else ():
        try:
            duplicate = os.dup(int(name))       # closing the duplicate closes no socket of the server
        except OSError:     # closed since listed (the listing's own)
            continue
        try:
            listening = socket.socket(fileno=duplicate)
        except OSError:     # not a socket
            os.close(duplicate)
            continue
        with listening:
            if (listening.family in (socket.AF_INET, socket.AF_INET6) and listening.type == socket.SOCK_STREAM
                    and listening.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)):
                listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                count += 1
    return count
