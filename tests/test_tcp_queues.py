"""tcp_queues against a real loopback connection whose server side reads on cue."""

import socket

import pytest
from tcp_queues import unread, wait_until_read


def test_bytes_count_as_read_only_once_the_server_has_read_them():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname(), timeout=10)
        with client:
            assert unread(client) == 0  # connected, nothing sent: the server side sits in the accept queue
            client.sendall(b"x" * 1000)
            with pytest.raises(AssertionError, match=r"bytes left per connection \[1000\]"):
                wait_until_read(client, timeout=0.2)
            server, _ = listener.accept()
            with server:
                server.settimeout(10)
                assert server.recv(600) == b"x" * 600
                assert unread(client) == 400
                received = b""
                while len(received) < 400:
                    received += server.recv(400)
                wait_until_read(client, timeout=10)
                assert unread(client) == 0
