"""Worker processes: N spawned processes, each running one job at a time.

On a machine with GPUs each worker sees one of them (``CUDA_VISIBLE_DEVICES``, round robin); on a
CPU the cores are split between the workers (``torch.set_num_threads``); each worker's run bar has
its own terminal line. A worker ignores Ctrl-C (the parent stops the run: ``close(cancel=True)``
ends every worker within seconds, and the unfinished steps simply run again next time) and dies
with its parent, however the parent ends (``kill -9`` included): a parent-death signal on Linux,
and a thread that watches the parent elsewhere. A worker that dies (killed, out of memory) fails
its step and is replaced.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from multiprocessing.connection import wait as wait_any

from tqdm import tqdm

from .base import Executor, Job, Result, failure

GRACE_SECONDS = 3.0   # a cancelled worker gets this long after SIGTERM before SIGKILL


def _die_with_parent(parent: int) -> None:
    """End this process when its parent ends, however it ends."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    def watch():
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    if os.getppid() != parent:   # the parent ended before the signal was asked for
        os._exit(1)
    threading.Thread(target=watch, daemon=True).start()


def _worker(slot: int, conn, gpu: str | None, threads: int, bar_lock, parent: int) -> None:
    """A worker's life: take a job, run it, send the result, until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    os.environ["HSCORE_EXECUTOR"] = "local-jobs"
    # torch loads here, after CUDA_VISIBLE_DEVICES is set, not when the parent's module is unpickled
    import torch
    from filelock import Timeout

    from ...engine.prepared import DataCache
    from ..steps import run_step

    torch.set_num_threads(threads)
    tqdm.set_lock(bar_lock)
    cache = DataCache()
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        try:
            record, ran = run_step(job.step, job.identity, cache, bar_position=slot + 1, wait=False)
            conn.send(("ok", record, ran))
        except Timeout:
            conn.send(("busy", None, False))
        except Exception as e:  # noqa: BLE001 - reported per step, the others go on
            conn.send(("error", failure(e), False))


def visible_gpus() -> list[str]:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g for g in visible.split(",") if g.strip()]
    import torch  # only to count the GPUs when nothing says which are visible

    return [str(i) for i in range(torch.cuda.device_count())]


class PoolExecutor(Executor):
    name = "local --jobs"

    def __init__(self, jobs: int):
        self.ctx = multiprocessing.get_context("spawn")
        self.gpus = visible_gpus()
        self.threads = max(1, (os.cpu_count() or 1) // jobs)
        self.bar_lock = self.ctx.RLock()
        tqdm.set_lock(self.bar_lock)   # one lock for every process's bars, so their lines do not interleave
        self.slots: list[dict] = [self._spawn(i) for i in range(jobs)]

    def describe(self) -> str:
        where = f"{len(self.gpus)} GPU(s)" if self.gpus else f"{self.threads} CPU thread(s) each"
        return f"{len(self.slots)} worker processes ({where})"

    def _spawn(self, slot: int) -> dict:
        ours, theirs = self.ctx.Pipe()
        gpu = self.gpus[slot % len(self.gpus)] if self.gpus else None
        process = self.ctx.Process(target=_worker, args=(slot, theirs, gpu, self.threads, self.bar_lock, os.getpid()),
                                   name=f"hscore-worker-{slot}", daemon=True)
        process.start()
        theirs.close()
        return {"slot": slot, "process": process, "conn": ours, "job": None}

    def free(self) -> int:
        return sum(s["job"] is None for s in self.slots)

    def _respawn(self, s: dict) -> dict:
        """A fresh worker in the slot of one that died."""
        s["conn"].close()
        fresh = self._spawn(s["slot"])
        self.slots[self.slots.index(s)] = fresh
        return fresh

    def start(self, jobs: list[Job]) -> None:
        idle = [s for s in self.slots if s["job"] is None]
        for slot, job in zip(idle, jobs):
            try:
                slot["conn"].send(job)
            except (BrokenPipeError, OSError):
                # it died while idle (killed, out of memory): nothing of the job ran; a fresh worker takes it
                tqdm.write(f"hscore: an idle worker process died (exit code {slot['process'].exitcode}); replaced",
                           file=sys.stderr)
                slot = self._respawn(slot)
                slot["conn"].send(job)
            slot["job"] = job

    def wait(self, timeout: float) -> list[Result]:
        busy = [s for s in self.slots if s["job"] is not None]
        if not busy:
            time.sleep(timeout)
            return []
        ready = set(wait_any([s["conn"] for s in busy] + [s["process"].sentinel for s in busy], timeout))
        out = []
        for s in busy:
            job = s["job"]
            if s["conn"] in ready:
                try:
                    kind, payload, ran = s["conn"].recv()
                except (EOFError, OSError):
                    kind, payload = "died", None
                if kind == "ok":
                    out.append(Result(job, payload, ran))
                elif kind == "busy":
                    out.append(Result(job, busy=True))
                elif kind == "error":
                    out.append(Result(job, error=payload))
                if kind != "died":
                    s["job"] = None
                    continue
            if s["process"].sentinel in ready or not s["process"].is_alive():
                code = s["process"].exitcode
                out.append(Result(job, error=f"its worker process died (exit code {code}: killed, or out of memory)"))
                self._respawn(s)
        return out

    def close(self, cancel: bool = False) -> None:
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
        try:
            for s in self.slots:
                if cancel:
                    s["process"].terminate()
                else:
                    try:
                        s["conn"].send(None)
                    except (BrokenPipeError, OSError):
                        pass
            deadline = time.monotonic() + (GRACE_SECONDS if cancel else 30.0)
            for s in self.slots:
                s["process"].join(max(0.0, deadline - time.monotonic()))
                if s["process"].is_alive():
                    s["process"].kill()
                    s["process"].join(1.0)
                s["conn"].close()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
