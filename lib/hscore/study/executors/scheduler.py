"""The scheduler: which step runs when, for every executor.

``execute(plan, executor)`` judges every step of the plan (``hscore.study.run``), stops before
anything trains when a finished run is stale or corrupt (one line naming the folders, and
``hscore clean --stale``), and when a step of the stages asked for depends on one that is neither
done nor asked for (``--stage finetune`` before phase 1). Then it runs each step once the steps it
depends on are done: the derived ones (selection, tables: milliseconds) here, between the others;
the trainable ones through the executor, as many at once as it takes. After every step the pair is
judged again, so a phase-2 run whose subset the new selection changed is found stale before it
trains. A failed step fails what depends on it and nothing else; the others go on, and the
outcome names every failure. Ctrl-C stops the executor's jobs within seconds; finished steps are
kept and the same command resumes.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from dataclasses import dataclass, field

from tqdm import tqdm

from ... import paths
from ...errors import ConfigError, CorruptResultError, StaleResultError, StepFailedError
from ...files import atomic_write_json
from ..plan import Plan, Step, unavailable
from ..run import Board, Run
from ..steps import run_step
from .base import Executor, Job, failure

POLL_SECONDS = 2.0


@dataclass
class Outcome:
    """What a run of the plan did: step ids trained, found finished, failed (with the reason)."""

    trained: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def raise_failures(self) -> None:
        """One ``StepFailedError`` line: each cause once, with the steps it failed (``failures``)."""
        if self.failed:
            raise StepFailedError(f"{len(self.failed)} step(s) failed; finished steps are kept, run the same command "
                                  "again to redo the rest. " + failures(self.failed))


CAUSE = 400   # characters of one cause a failure line shows


def failures(failed: dict[str, str], limit: int = 3) -> str:
    """Failures that share a cause said once, with the count and the first steps named
    (``<cause> (12 steps alike: a, b, c and 9 more)``); the steps that only needed a failed one are
    counted at the end. Causes alike differ at most in their numbers (each run's own loss) and in
    naming their own step's folder; the first is shown, cut to ``CAUSE`` characters."""
    by_cause: dict[str, tuple[str, list[str]]] = {}
    needing = [sid for sid, why in failed.items() if why.startswith("needs ") and why.endswith(", which failed")]
    for sid, why in failed.items():
        if sid not in needing:
            shown = why if len(why) <= CAUSE else why[:CAUSE] + f"... ({len(why):,} characters)"
            alike = re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "#", why.replace(sid, "<step>"))   # its own folder too
            by_cause.setdefault(alike, (shown, []))[1].append(sid)
    parts = []
    for shown, ids in by_cause.values():
        named = ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
        parts.append(f"{shown} ({len(ids)} steps alike: {named})" if len(ids) > 1 else f"{ids[0]}: {shown}")
    if needing:
        parts.append(f"{len(needing)} step(s) that need them did not run")
    return " | ".join(parts)


def problems(board: Board, steps: list[Step]) -> None:
    """Stop before anything trains when a trainable step is stale or corrupt (a derived one is
    recomputed), naming everything one ``hscore clean --stale`` deletes (``Board.to_clean``)."""
    for state, error, what in (("corrupt", CorruptResultError, "do not match the checksums written with them"),
                               ("stale", StaleResultError, "were made from other inputs")):
        bad = [board.run(s) for s in steps if not s.derived and board.run(s).state == state]
        if bad:
            _, downstream = board.to_clean()
            with_them = (f", and the {len(downstream)} finished phase-2 run(s) trained on subsets the redone scoring "
                         f"decides ({grouped(downstream, problem=False)})" if downstream else "")
            raise error(f"{len(bad)} finished step(s) {what}: {grouped(bad)}. They are kept, not reused: `hscore clean "
                        f"--profile {board.plan.profile} --stale` deletes every stale or corrupt step of the profile's "
                        f"pairs{with_them}; then the same command recomputes them (`--pair MODEL/TASK` deletes a "
                        "pair's whole folder).")


def grouped(runs: list[Run], limit: int = 3, problem: bool = True) -> str:
    """Runs with the same problem named once: ``the training data (...): <folder>, <folder> and 4 more``
    (``problem=False``: the folders alone)."""
    by_problem: dict[str, list[Run]] = {}
    for run in runs:
        by_problem.setdefault(run.problem.removeprefix("made from other inputs: ") if problem else "", []).append(run)
    parts = []
    for problem, group in list(by_problem.items())[:limit]:
        folders = ", ".join(str(r.step.folder) for r in group[:limit])
        parts.append((f"{problem}: " if problem else "") + folders
                     + (f" and {len(group) - limit} more" if len(group) > limit else ""))
    more = f" | and {len(by_problem) - limit} other problem(s)" if len(by_problem) > limit else ""
    return " | ".join(parts) + more


def unloadable(board: Board) -> None:
    """Stop when a pair's data cannot be loaded: each cause once, with the pairs it stops."""
    by_problem: dict[str, list[str]] = {}
    for pair, runs in board.pairs.items():
        if runs.data_problem:
            by_problem.setdefault(runs.data_problem, []).append(pair)
    if by_problem:
        raise unavailable(by_problem, list(board.pairs))


def unmet(board: Board, steps: list[Step]) -> None:
    """Stop when a step asked for depends on one that is not done, not asked for, and not running."""
    wanted = {s.id for s in steps}
    by_id = board.plan.by_id()
    for step in steps:
        for dep in step.deps:
            run = board.run(by_id[dep])
            if dep not in wanted and not run.done and run.state != "running":
                need = "phase 1 (`--stage score`)" if by_id[dep].stage in ("score", "select") else "phase 2"
                raise ConfigError(f"{step.id} needs {dep}, which is {run.state}: run {need} first, or run without "
                                  "--stage")


def todo(board: Board, stages=None) -> list[Step]:
    """The plan's steps of these stages (all when None) that are not done, in plan order."""
    return [s for s in board.plan.steps if (stages is None or s.stage in stages) and not board.run(s).done]


def check(board: Board, stages=None) -> list[Step]:
    """The steps to run, after the checks that stop a run before anything trains."""
    steps = todo(board, stages)
    unloadable(board)
    problems(board, steps)
    unmet(board, steps)
    return steps


def _write_plan(plan: Plan, executor: Executor) -> None:
    atomic_write_json(paths.plan_file(plan.profile), {**plan.to_json(), "executor": executor.describe()})


def execute(plan: Plan, executor: Executor, stages=None, poll_seconds: float = POLL_SECONDS,
            board: Board | None = None) -> Outcome:
    """Run the plan's unfinished steps (of ``stages``) through ``executor``; see the module docstring."""
    board = board or Board(plan, load_data=True)
    steps = check(board, stages)
    _write_plan(plan, executor)
    by_id = plan.by_id()
    outcome, left, running = Outcome(), list(steps), {}
    retry_at: dict[str, float] = {}
    bar = tqdm(total=sum(not s.derived for s in steps), desc=f"{plan.profile}: runs ({executor.describe()})",
               unit="run", position=0, dynamic_ncols=True)

    def fail(step: Step, why: str) -> None:
        outcome.failed[step.id] = why.replace(step.describe() + ": ", "")   # the failure line names the step
        if step in left:
            left.remove(step)
        for other in [s for s in left if step.id in s.deps]:   # what needs it cannot run now
            fail(other, f"needs {step.id}, which failed")

    def finished(step: Step, ran: bool) -> None:
        if not step.derived:
            (outcome.trained if ran else outcome.finished).append(step.id)
            bar.update(1)
        board.rejudge(step)

    try:
        while left or running:
            now = time.monotonic()
            ready = [s for s in left if s.id not in running and retry_at.get(s.id, 0) <= now
                     and all(board.run(by_id[d]).done for d in s.deps)]
            jobs = []
            for step in ready:
                run = board.run(step)
                if run.done:
                    left.remove(step)
                    finished(step, False)
                elif run.identity is None:
                    fail(step, run.problem or "its inputs are not known")
                elif run.state in ("stale", "corrupt") and not step.derived:
                    fail(step, f"{run.describe()}; delete that folder (`hscore clean --profile {plan.profile} "
                               "--stale`) to recompute it")
                elif step.derived:
                    try:
                        _, ran = run_step(step, run.identity, judged=board.pairs[step.pair])
                    except Exception as e:  # noqa: BLE001 - e.g. an empty winning ticket: named, the rest goes on
                        fail(step, failure(e))
                        continue
                    left.remove(step)
                    finished(step, ran)
                else:
                    jobs.append(Job(step, run.identity))
            jobs = jobs[:executor.free()]
            if jobs:
                bar.set_postfix_str(jobs[0].step.describe(), refresh=True)
                executor.start(jobs)
                running.update({j.step.id: j.step for j in jobs})
            if running:
                for result in executor.wait(poll_seconds):
                    step = result.job.step
                    running.pop(step.id, None)
                    if result.busy:   # another process runs it: look again later
                        retry_at[step.id] = time.monotonic() + poll_seconds
                    elif result.error is not None:
                        fail(step, result.error)
                    else:
                        left.remove(step)
                        finished(step, result.ran)
            elif left and not ready:
                if not any(r.state == "running" for r in board.runs()) and not retry_at:
                    for step in list(left):
                        fail(step, "its inputs are not finished")
                    break
                bar.set_postfix_str(f"waiting for another process ({len(left)} steps left)", refresh=True)
                time.sleep(poll_seconds)
                retry_at.clear()
                for pair in board.pairs.values():
                    pair.rejudge()
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt) and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)   # stopping now: a second Ctrl-C must not cut the cleanup
        bar.close()
        executor.close(cancel=True)
        raise
    bar.close()
    executor.close()
    return outcome
