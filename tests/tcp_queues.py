"""What the kernel still holds of loopback TCP connections (import as `tcp_queues`), read from /proc/net/tcp.

A test that must act only once a server has received what a client sent (a slow client's head, requests queued
behind a busy one) waits here for that event: the client's send queue and the server side's receive queue both
empty. Sleeping "long enough" instead is a guess that a busy machine loses.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

PROC_NET_TCP = Path("/proc/net/tcp")
WAIT_LIMIT_S = 60.0


def _queues() -> dict[tuple[int, int], tuple[int, int]]:
    """(local port, remote port) -> (send queue, receive queue) of every IPv4 TCP socket of this network namespace.

    For an established socket the send queue holds the bytes written but not yet acknowledged by the peer and the
    receive queue the bytes received but not yet read by the application (proc_net_tcp(5)).
    """
    found = {}
    for line in PROC_NET_TCP.read_text().splitlines()[1:]:
        fields = line.split()
        local_port, remote_port = (int(address.rsplit(":", 1)[1], 16) for address in fields[1:3])
        send_queue, receive_queue = (int(size, 16) for size in fields[4].split(":"))
        # A closed connection of the same ports may linger (TIME_WAIT, empty queues): the fuller entry is the live one.
        before = found.get((local_port, remote_port), (0, 0))
        found[(local_port, remote_port)] = (max(before[0], send_queue), max(before[1], receive_queue))
    return found


def unread(sock: socket.socket, queues: dict[tuple[int, int], tuple[int, int]] | None = None) -> int | None:
    """Bytes written on the client socket ``sock`` that the server's process has not read yet (None: the kernel
    shows no server side of this connection); ``queues`` is a reading of ``_queues()`` to reuse."""
    client_port, server_port = sock.getsockname()[1], sock.getpeername()[1]
    queues = _queues() if queues is None else queues
    if (server_port, client_port) not in queues:
        return None
    return queues[(client_port, server_port)][0] + queues[(server_port, client_port)][1]


def wait_until_read(*socks: socket.socket, timeout: float = WAIT_LIMIT_S) -> None:
    """Return once the server has read every byte sent so far on each of ``socks`` (loopback connections); an
    AssertionError naming how many bytes are left if that takes longer than ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        queues = _queues()
        left = [unread(sock, queues) for sock in socks]
        if all(count == 0 for count in left):
            return
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the server had not read what was sent within {timeout} s: bytes left per connection {left} "
                "(None: no server side), expected 0 for each"
            )
        time.sleep(0.01)
