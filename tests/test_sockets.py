"""The server's listening sockets set to send at once (`app.sockets`): every connection they
accept has Nagle's algorithm off, which Streamlit's own socket leaves on."""
from __future__ import annotations

import os
import socket

from app import sockets


def _nodelay(connection: socket.socket) -> int:
    return connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_connections_accepted_after_send_at_once_have_nagle_off():
    with socket.socket(socket.AF_INET) as listening:      # as Streamlit binds it: protocol 0
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        with socket.create_connection(listening.getsockname()) as _, listening.accept()[0] as before:
            assert _nodelay(before) == 0
        open_files = len(os.listdir("/proc/self/fd"))
        assert sockets.send_at_once() >= 1
        assert len(os.listdir("/proc/self/fd")) == open_files     # every duplicate closed
        with socket.create_connection(listening.getsockname()) as _, listening.accept()[0] as after:
            assert _nodelay(after) == 1
        assert listening.fileno() >= 0       # the listening socket itself still open


def test_sockets_that_do_not_listen_are_left_alone():
    with socket.socket(socket.AF_INET) as listening, socket.socket(socket.AF_INET) as bound:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        bound.bind(("127.0.0.1", 0))
        sockets.send_at_once()
        assert _nodelay(bound) == 0
