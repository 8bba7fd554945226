"""The runner's child processes: started, watched, restarted when they crash, stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

INITIAL_BACKOFF = 0.5
MAX_BACKOFF = 30.0
# A process that ran this long before it crashed was healthy: the next crash starts again
# from the shortest delay instead of waiting as long as the last one.
STABLE_AFTER = 30.0
# Longer lines are dropped rather than held in memory.
_LINE_LIMIT = 1 << 20
# How long the last output of an exited process may take to arrive.
_DRAIN_TIMEOUT = 2.0


class Output:
    """Every child's output on the runner's stdout, each line prefixed with its name."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout
        self._width = 8

    def reserve(self, name: str) -> None:
        """Align every prefix to the longest name seen so far."""
        self._width = max(self._width, len(name))

    def line(self, name: str, text: str) -> None:
        self._stream.write(f"{name:<{self._width}} | {text}\n")
        self._stream.flush()


@dataclass(frozen=True)
class ChildSpec:
    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    # Run as this user (the runner must be root): PostgreSQL refuses to run as root.
    user: str | None = None
    # What asks this program to stop cleanly (PostgreSQL: SIGINT is its fast shutdown).
    stop_signal: signal.Signals = signal.SIGTERM


class Child:
    """One supervised process; restarted with a growing delay whenever it exits."""

    def __init__(self, spec: ChildSpec, output: Output) -> None:
        self.spec = spec
        self.restarts = 0
        self._output = output
        self._process: asyncio.subprocess.Process | None = None
        self._copying: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        output.reserve(spec.name)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int | None:
        """The running process's PID, None between a crash and its restart."""
        process = self._process
        return process.pid if process and process.returncode is None else None

    async def start(self) -> None:
        """Start the process and keep it running; raises OSError if it cannot start at all."""
        process = await self._spawn()
        self._watcher = asyncio.create_task(self._watch(process), name=f"watch {self.name}")

    async def stop(self, timeout: float) -> None:
        """Ask the process to stop; kill it and everything it started if it does not."""
        self._stopping.set()
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(self.spec.stop_signal)
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                self._say(f"did not stop within {timeout:g} s; killing it")
                # The child leads its own process group (start_new_session), so this also
                # reaches what a wrapper script started: the RabbitMQ server, say.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        if self._watcher is not None:
            await self._watcher

    async def _watch(self, process: asyncio.subprocess.Process) -> None:
        loop = asyncio.get_running_loop()
        backoff = INITIAL_BACKOFF
        while True:
            started = loop.time()
            code = await process.wait()
            await self._clean_up(process)
            if self._stopping.is_set():
                return
            if loop.time() - started >= STABLE_AFTER:
                backoff = INITIAL_BACKOFF
            self._say(f"exited ({_describe(code)}); restarting in {backoff:g} s")
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                    return
                backoff = min(backoff * 2, MAX_BACKOFF)
                try:
                    process = await self._spawn()
                    break
                except OSError as exc:
                    self._say(f"cannot restart ({exc}); trying again in {backoff:g} s")
            self.restarts += 1

    async def _spawn(self) -> asyncio.subprocess.Process:
        spec = self.spec
        # Our own pipe, not asyncio's: Process.wait() waits for asyncio's pipes to close too,
        # which whatever the child started can delay for ever (the RabbitMQ server after
        # its wrapper script died, say), and the runner must see the child itself exit.
        read_end, write_end = os.pipe()
        try:
            process = await asyncio.create_subprocess_exec(
                *_stopped_with_runner(spec.argv, spec.stop_signal),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_end,
                stderr=write_end,
                env=None if spec.env is None else dict(spec.env),
                cwd=spec.cwd,
                user=spec.user,
                # Ctrl-C in a terminal reaches the whole foreground group; in their own
                # sessions the children hear only the runner, which stops them in order.
                start_new_session=True,
            )
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        self._process = process
        self._copying = asyncio.create_task(self._copy_output(read_end))
        return process

    async def _clean_up(self, process: asyncio.subprocess.Process) -> None:
        """After the process exited: end what it left behind, pass on its last lines."""
        # A wrapper's server (RabbitMQ under its script), or PostgreSQL's backends after a
        # crash, would otherwise hold the ports the restarted process needs.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        if self._copying is not None:
            # Whatever still holds the pipe open must not keep the watcher waiting.
            _, pending = await asyncio.wait({self._copying}, timeout=_DRAIN_TIMEOUT)
            for task in pending:
                task.cancel()

    async def _copy_output(self, read_end: int) -> None:
        stream = asyncio.StreamReader(limit=_LINE_LIMIT)
        transport, _ = await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stream), os.fdopen(read_end, "rb", buffering=0)
        )
        try:
            while True:
                try:
                    line = await stream.readline()
                except ValueError:
                    self._say(f"(a line longer than {_LINE_LIMIT} bytes was dropped)")
                    continue
                if not line:
                    return
                self._output.line(self.name, line.decode(errors="replace").rstrip())
        finally:
            transport.close()

    def _say(self, text: str) -> None:
        self._output.line(self.name, text)


def _describe(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _stopped_with_runner(argv: tuple[str, ...], sig: signal.Signals) -> tuple[str, ...]:
    """The command, wrapped so that the child gets `sig` when the runner dies.

    Even a runner killed with SIGKILL then leaves no service, database or gateway behind
    holding its ports. util-linux's setpriv sets the parent-death signal and execs the
    program in place (same PID); a preexec_fn could do the same, but is not safe in a
    process with threads. Without setpriv, children outlive a killed runner.
    """
    setpriv = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    if setpriv is None:
        return argv
    return (setpriv, f"--pdeathsig={sig.name}", "--", *argv)
