"""Run several child processes as one service: prefixed output, forwarded signals, shared fate."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# honcho/foreman-style colours, used only when writing to a terminal.
_COLOURS = ("\033[36m", "\033[33m", "\033[32m", "\033[35m", "\033[34m")
_RESET = "\033[0m"


@dataclass
class Child:
    """One supervised command. It runs in its own process group so the whole tree can be ended."""

    name: str
    argv: Sequence[str]
    env: dict[str, str] | None = None
    cwd: str | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)
    pump: threading.Thread | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def signal_main(self, signum: int) -> None:
        """Signal the child's main process only; it passes the signal on to its own workers."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def kill_group(self) -> None:
        """SIGKILL every process left in the child's group (its pgid is its pid), even orphans."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class Supervisor:
    """Start children, relay their output with a name prefix, and stop them all together.

    `run()` returns when a stop signal arrived (exit status 0 once everything stopped) or when a
    child exited on its own (that child's status, or 1): the service is only useful whole.
    """

    def __init__(self, *, shutdown_timeout: float = 10.0, out=None,
                 log: Callable[[str], None] | None = None):
        self.children: list[Child] = []
        self.shutdown_timeout = shutdown_timeout
        self.out = out or sys.stdout
        self._lock = threading.Lock()
        self._width = 6
        self._stop_signal: int | None = None
        self._signals_received = 0
        self._log = log or (lambda message: self.write("mlpq", message))
        self._colour = self.out.isatty() and "NO_COLOR" not in os.environ

    # -- output ---------------------------------------------------------------------------
    def write(self, name: str, line: str) -> None:
        prefix = f"{name:<{self._width}} |"
        if self._colour:
            index = next((i for i, child in enumerate(self.children) if child.name == name), -1)
            prefix = f"{_COLOURS[index % len(_COLOURS)] if index >= 0 else ''}{prefix}{_RESET}"
        with self._lock:
            self.out.write(f"{prefix} {line.rstrip()}\n")
            self.out.flush()

    def _relay(self, child: Child) -> None:
        for raw in iter(child.process.stdout.readline, b""):
            self.write(child.name, raw.decode("utf-8", errors="replace"))
        child.process.stdout.close()

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, child: Child) -> Child:
        self.children.append(child)
        self._width = max(self._width, len(child.name))
        child.process = subprocess.Popen(
            list(child.argv), env=child.env, cwd=child.cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        child.pump = threading.Thread(target=self._relay, args=(child,), daemon=True)
        child.pump.start()
        self._log(f"started {child.name} (pid {child.pid}): {' '.join(child.argv)}")
        return child

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame) -> None:
        self._signals_received += 1
        if self._stop_signal is None:
            self._stop_signal = signum
        elif self._signals_received > 1:
            # A second Ctrl-C means "now": skip the graceful wait.
            for child in self.children:
                child.kill_group()

    @property
    def stopping(self) -> bool:
        return self._stop_signal is not None

    def wait(self, extra_check: Callable[[], str | None] | None = None,
             poll_interval: float = 0.1) -> int:
        """Block until a stop signal or a child's exit, then stop everything and return a status."""
        status = 0
        while not self.stopping:
            ended = next((c for c in self.children if c.returncode() is not None), None)
            problem = extra_check() if extra_check else None
            if ended is not None:
                self._log(f"{ended.name} exited with status {ended.returncode()}; stopping the rest")
                status = ended.returncode() or 1
                break
            if problem:
                self._log(f"{problem}; stopping the rest")
                status = 1
                break
            time.sleep(poll_interval)
        else:
            self._log(f"received {signal.Signals(self._stop_signal).name}; stopping "
                      f"(up to {self.shutdown_timeout:g}s; a second Ctrl-C kills everything now)")
        self.stop_all(self._stop_signal or signal.SIGTERM)
        return status

    def stop_all(self, signum: int = signal.SIGTERM) -> None:
        """Forward `signum` to every child (newest first), wait, then kill what is left."""
        for child in reversed(self.children):
            child.signal_main(signum)
        deadline = time.monotonic() + self.shutdown_timeout
        for child in reversed(self.children):
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._log(f"{child.name} still running after {self.shutdown_timeout:g}s; killing it")
            child.kill_group()
            child.process.wait()
            if child.pump is not None:
                child.pump.join(timeout=2)
