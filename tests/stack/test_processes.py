"""The runner's supervision of its children: output, restarts, stopping."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from ems.stack.processes import Child, ChildSpec, Output
from tests.gateway.running import is_alive
from tests.platform.polling import eventually, eventually_blocking


def _child(output: io.StringIO, name: str, script: str) -> Child:
    return Child(ChildSpec(name, ("sh", "-c", script)), Output(output))


async def test_output_is_prefixed_with_the_childs_name() -> None:
    """Else the interleaved output of a dozen services cannot be told apart."""
    out = io.StringIO()
    child = _child(out, "svc-0", "echo hello; echo world; exec sleep 30")
    await child.start()
    try:
        await eventually(lambda: "world" in out.getvalue())
    finally:
        await child.stop(5)
    assert "svc-0    | hello\n" in out.getvalue()
    assert "svc-0    | world\n" in out.getvalue()


async def test_a_killed_child_is_restarted() -> None:
    """Else one crash takes a service down until the whole stack is restarted."""
    out = io.StringIO()
    child = _child(out, "svc-0", "echo started; exec sleep 30")
    await child.start()
    try:
        await eventually(lambda: "started" in out.getvalue())
        first = child.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        await eventually(lambda: child.pid not in (None, first))
        await eventually(lambda: out.getvalue().count("started") == 2)
    finally:
        await child.stop(5)
    assert "exited (killed by SIGKILL); restarting in 0.5 s" in out.getvalue()
    assert child.restarts == 1


async def test_restarts_back_off() -> None:
    """Else a child that fails at once is restarted in a tight loop, burning the CPU."""
    out = io.StringIO()
    child = _child(out, "broken", "exit 3")
    await child.start()
    try:
        await eventually(lambda: "restarting in 2 s" in out.getvalue())
    finally:
        await child.stop(5)
    text = out.getvalue()
    assert text.index("restarting in 0.5 s") < text.index("restarting in 1 s")
    assert "exited (exit code 3)" in text


async def test_stop_kills_what_ignores_sigterm_with_its_children(tmp_path: Path) -> None:
    """Else a hung child, or what a wrapper script started, outlives `ems up`."""
    out = io.StringIO()
    pid_file = tmp_path / "grandchild"
    script = f"trap '' TERM; sleep 300 & echo $! > {pid_file}; wait"
    child = _child(out, "stubborn", script)
    await child.start()
    await eventually(lambda: pid_file.exists() and pid_file.read_text().strip())
    grandchild = int(pid_file.read_text())
    await child.stop(0.5)
    assert "did not stop within 0.5 s; killing it" in out.getvalue()
    await eventually(lambda: not is_alive(grandchild))


async def test_what_a_crashed_child_started_is_ended(tmp_path: Path) -> None:
    """Else a crashed wrapper's server keeps the port its restarted copy needs."""
    out = io.StringIO()
    pid_file = tmp_path / "server"
    child = _child(out, "wrapper", f"sleep 300 & echo $! > {pid_file}; wait")
    await child.start()
    try:
        await eventually(lambda: pid_file.exists() and pid_file.read_text().strip())
        server = int(pid_file.read_text())
        wrapper = child.pid
        assert wrapper is not None
        os.kill(wrapper, signal.SIGKILL)
        await eventually(lambda: not is_alive(server))
    finally:
        await child.stop(5)


def test_children_die_with_a_killed_runner(tmp_path: Path) -> None:
    """Else a runner killed with SIGKILL leaves services holding the stack's ports."""
    script = textwrap.dedent(
        """
        import asyncio, sys
        from ems.stack.processes import Child, ChildSpec, Output

        async def main():
            child = Child(ChildSpec("sleeper", ("sleep", "300")), Output())
            await child.start()
            print("child", child.pid, flush=True)
            await asyncio.sleep(300)  # the runner lives on until the test kills it

        asyncio.run(main())
        """
    )
    runner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert runner.stdout is not None
    line = runner.stdout.readline()
    sleeper = int(line.split()[1])
    assert is_alive(sleeper)
    runner.kill()
    runner.wait()
    eventually_blocking(lambda: not is_alive(sleeper), timeout=10, what="the orphaned child dying")
