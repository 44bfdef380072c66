"""tests/keel_harness.py itself: free_port() only finds a port that was free a moment ago, and
pytest-xdist runs several test processes that all pick ports. A server that finds its port taken
is started again on another one (only when the harness picked the port), and a port answered by
another server is never taken for ours."""
import socket

import pytest

import keel_harness
from keel_harness import KeelServer


def picks(monkeypatch, *ports):
    """free_port() returns these ports first, then free ones."""
    real, queue = keel_harness.free_port, list(ports)
    monkeypatch.setattr(keel_harness, "free_port", lambda: queue.pop(0) if queue else real())


def test_a_taken_port_is_replaced_and_the_log_keeps_no_failed_start(monkeypatch, live):
    with socket.socket() as hold:  # a listener that never answers
        hold.bind(("127.0.0.1", 0))
        hold.listen(1)
        taken = hold.getsockname()[1]
        picks(monkeypatch, taken)
        s = KeelServer()
        live.append(s)
        assert s.port == taken
        s.start()
        assert s.port != taken
        assert s.client().info("server")["process_id"] == s.proc.pid
        assert "Address already in use" not in s.read_log()


def test_a_port_another_server_answers_on_is_not_taken_for_ours(monkeypatch, live):
    other = KeelServer()
    live.append(other)
    other.start()
    picks(monkeypatch, other.port)
    s = KeelServer()
    live.append(s)
    s.start()
    assert s.port != other.port
    assert s.client().info("server")["process_id"] == s.proc.pid


def test_a_port_the_test_chose_is_kept_and_the_start_fails(live):
    with socket.socket() as hold:  # bound, not listening: connections are refused at once
        hold.bind(("127.0.0.1", 0))
        s = KeelServer(port=hold.getsockname()[1])
        live.append(s)
        with pytest.raises(RuntimeError, match="Address already in use"):
            s.start(timeout=60)
