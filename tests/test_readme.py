"""The README's walkthrough works as written: its shell block runs, command by command, in a
fresh folder (on a free port), and leaves the chain it promises."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import httpx

from fixtures_node import free_port
from test_cli import gridledger_command

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = "## Your own chain, step by step"


def walkthrough() -> str:
    """The shell block of the README's walkthrough section."""
    text = README.read_text()
    section = text[text.index(SECTION) :]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, "the walkthrough has a shell block"
    return match.group(1)


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    port = free_port()
    script = walkthrough()
    assert "127.0.0.1:8701" in script
    script = script.replace("127.0.0.1:8701", f"127.0.0.1:{port}")
    # the node started in the background must answer before the next command
    script = script.replace(
        "> node.log 2>&1 &",
        "> node.log 2>&1 &\necho $! > node.pid\nfor _ in $(seq 100); do curl -sf "
        f"http://127.0.0.1:{port}/healthz >/dev/null && break; sleep 0.2; done",
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "gridledger"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.join(gridledger_command())} "$@"\n')
    wrapper.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    env.pop("GRIDLEDGER_HOME", None)
    full = "set -euo pipefail\n" + script + "\nsleep 0.5\n"
    try:
        done = subprocess.run(
            ["bash", "-c", full + "echo WALKED\n"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "WALKED" in done.stdout
        url = f"http://127.0.0.1:{port}"
        book = httpx.get(f"{url}/v1/market/intervals").json()["intervals"]
        assert [(i["status"], i["bids"] is None) for i in book] == [("open", True)]
        readings = httpx.get(f"{url}/v1/meters/m-pv-1/readings").json()["readings"]
        assert [r["energy_wh"] for r in readings] == [4200]
        ann = httpx.get(f"{url}/v1/accounts/ann").json()
        assert (ann["roles"], ann["balance"]) == (["consumer"], 100_000 - 120)
        assert httpx.get(f"{url}/v1/accounts/grid").json()["roles"] == ["grid_operator"]
        assert httpx.get(f"{url}/v1/status").json()["time_zone"] == "Asia/Shanghai"
    finally:
        pid_file = tmp_path / "node.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGTERM)
            _wait_gone(pid)


def _wait_gone(pid: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
