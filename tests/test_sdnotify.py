"""kioskapp.sdnotify: the notify protocol over a real datagram socket."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from kioskapp.sdnotify import Notifier, parse_address
from tests.notify_socket import NotifySocket


def test_addresses() -> None:
    assert parse_address("/run/systemd/notify") == "/run/systemd/notify"
    assert parse_address("@kiosk/notify") == b"\0kiosk/notify"
    for bad in ("", "/", "@", "relative/path", "vsock:2:1234"):
        assert parse_address(bad) is None


@pytest.mark.parametrize("kind", ["abstract", "path"])
def test_messages_reach_the_socket(kind: str, tmp_path: Path) -> None:
    with NotifySocket(tmp_path / "notify" if kind == "path" else None) as listener:
        env = {"NOTIFY_SOCKET": listener.address}
        notifier = Notifier.from_environ(env)
        assert notifier.enabled
        assert notifier.ready("selling")
        assert notifier.watchdog()
        assert notifier.status("out of service:\nno bill reader")
        assert notifier.stopping()
        notifier.close()
        listener.until(lambda m: "STOPPING" in m, "STOPPING=1")
    assert listener.messages == [
        {"READY": "1", "STATUS": "selling"},
        {"WATCHDOG": "1"},
        {"STATUS": "out of service: no bill reader"},  # one line for systemctl
        {"STOPPING": "1"},
    ]


def test_a_long_status_is_cut() -> None:
    with NotifySocket() as listener:
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": listener.address})
        notifier.status("x" * 1000)
        listener.until(lambda m: "STATUS" in m, "STATUS")
        notifier.close()
    assert len(listener.messages[0]["STATUS"]) == 200


def test_outside_systemd_nothing_is_sent() -> None:
    notifier = Notifier.from_environ({})
    assert not notifier.enabled
    assert notifier.watchdog_timeout_s is None
    assert not notifier.ready()
    assert not notifier.watchdog()


def test_a_line_that_is_not_key_value_is_refused() -> None:
    notifier = Notifier("@somewhere")
    with pytest.raises(ValueError, match="KEY=value"):
        notifier.send("READY=1", "garbage")
    with pytest.raises(ValueError, match="KEY=value"):
        notifier.send("STATUS=two\nlines")


def test_the_watchdog_timeout_comes_from_systemd() -> None:
    env = {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}
    notifier = Notifier.from_environ(env)
    assert notifier.watchdog_usec == 30_000_000
    assert notifier.watchdog_timeout_s == 30.0


def test_the_watchdog_of_another_process_is_not_ours() -> None:
    env = {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}
    assert Notifier.from_environ(env, pid=4242).watchdog_timeout_s is None
    assert Notifier.from_environ(env, pid=1).watchdog_timeout_s == 30.0
    # No WATCHDOG_PID: the watchdog is for whoever reads the variables.
    del env["WATCHDOG_PID"]
    assert Notifier.from_environ(env, pid=4242).watchdog_timeout_s == 30.0


@pytest.mark.parametrize("value", ["0", "-5", "soon", "", "1.5"])
def test_a_bad_watchdog_timeout_is_ignored(value: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="kioskapp.sdnotify"):
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": value})
    assert notifier.enabled
    assert notifier.watchdog_timeout_s is None
    assert "WATCHDOG_USEC" in caplog.text


def test_an_unsupported_socket_disables_notifying(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="kioskapp.sdnotify"):
        notifier = Notifier.from_environ({"NOTIFY_SOCKET": "vsock:2:1234", "WATCHDOG_USEC": "9"})
    assert not notifier.enabled
    assert notifier.watchdog_timeout_s is None
    assert "vsock:2:1234" in caplog.text


def test_unset_keeps_children_from_speaking_for_the_service() -> None:
    env = {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "7", "HOME": "/"}
    notifier = Notifier.from_environ(env, pid=7, unset=True)
    assert notifier.enabled
    assert notifier.watchdog_timeout_s == 1.0
    assert env == {"HOME": "/"}


def test_a_missing_manager_never_raises_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "notify"
    listener = NotifySocket(path)
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": str(path)})
    assert notifier.watchdog()
    listener.close()
    path.unlink()  # the manager went away
    with caplog.at_level(logging.INFO, logger="kioskapp.sdnotify"):
        assert not notifier.watchdog()
        assert not notifier.watchdog()
        assert not notifier.status("still here")
        assert caplog.text.count("cannot notify systemd") == 1
        with NotifySocket(path) as listener:  # back again
            assert notifier.watchdog()
            listener.until(lambda m: "WATCHDOG" in m, "WATCHDOG=1")
    assert "notifying systemd again" in caplog.text
    notifier.close()
