"""``make demo``'s command: a taken port is one line and exit 1; a dead child stops the demo."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError

ROOT = Path(__file__).resolve().parents[2]
MANAGE = ROOT / "example_project" / "manage.py"


def _listening() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def _demo(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL"))
    }
    env["DEMO_DB"] = str(tmp_path / "demo.sqlite3")
    return subprocess.run(
        [sys.executable, str(MANAGE), "shipping_demo", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )


@pytest.mark.integration
@pytest.mark.parametrize("option", ["--port", "--sandbox-port"])
def test_a_taken_port_is_named_in_one_line_and_the_demo_exits_1(tmp_path, option):
    other = "--sandbox-port" if option == "--port" else "--port"
    with _listening() as taken, _listening() as spare:
        port = taken.getsockname()[1]
        free = spare.getsockname()[1]
        spare.close()  # free again: the other process of the demo may have it
        result = _demo(option, str(port), other, str(free), tmp_path=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert f"Port {port} on 127.0.0.1 is taken" in line
    assert option in line
    assert not (tmp_path / "demo.sqlite3").exists()  # nothing was started or migrated


class _Dead:
    name = "qcluster"

    def poll(self) -> int:
        return 3


class _Alive:
    name = "web"

    def poll(self) -> None:
        return None


def test_a_child_that_dies_makes_the_demo_exit_1_naming_it(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "example_project"))
    from shop.management.commands.shipping_demo import Command

    command = Command()
    command.app_url = command.sandbox_url = "http://127.0.0.1:1"
    command.processes = [_Alive(), _Dead()]
    with pytest.raises(CommandError) as error:
        command._run_interactive()
    assert error.value.returncode == 1
    assert "The demo's qcluster process stopped unexpectedly (exit status 3)" in str(error.value)
