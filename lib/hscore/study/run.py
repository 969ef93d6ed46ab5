"""``Run``: a plan step as the results store holds it, and the one definition of "done".

A step's **identity** is everything its result depends on, computed from the configuration and the
inputs as they are now (``PairRuns``):

- a scoring run: its settings (``plan.run_settings``) and the data identity (``hscore.data.identity``:
  the task and its declaration, the fingerprints of the training and evaluation splits as loaded);
- the selection: its settings, the identity hash of every scoring run and the code that selects;
- a phase-2 run: its settings, the data identity and the fingerprint of exactly the positions it
  trains on, taken from the current selection (the selection on disk when it is current, else
  computed in memory from the scoring runs): a run whose subset changed is stale, one whose rows
  are the same (the full set; a random subset whose size did not change) is the same computation;
- the tables: the identity hash of every current run they export, and their code.

A step is **done** when its ``step.json`` holds that identity's hash and every file it lists has
the size and SHA-256 written with it. Otherwise it is ``stale`` (a record made from other inputs:
``problem`` says which), ``corrupt`` (a file missing or changed), ``running`` (another process holds
its lock), ``pending`` (to run) or ``waiting`` (its identity is not known until the steps it
depends on are done). The executors, ``hscore plan``, the readers and the book all ask this module.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..config import PairConfig
from ..data import get_task, pair_splits
from ..data import identity as data_identity
from ..errors import EmptySubsetError, HScoreError
from ..files import array_fingerprint, identity_hash, plain
from . import selection
from .plan import Step, pair_steps
from .store import STEP_FILE, held, read_record, verify

STATES = ("done", "stale", "corrupt", "running", "pending", "waiting")
_HERE = Path(__file__).resolve().parent


def code_hash(*files: Path) -> str:
    """A short hash of source files: what a derived step's result depends on in the code."""
    h = hashlib.sha256()
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


# The code a derived step runs: when it changes, the step is recomputed (never an error: it is cheap).
SELECT_CODE = code_hash(*sorted((_HERE.parent / "pruning").glob("*.py")), _HERE / "selection.py")
TABLES_CODE = code_hash(_HERE / "results.py", _HERE / "steps.py")


def flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


WHAT_CHANGED = {"data.task.label_noise": "the planted label noise", "data.flipped": "the flipped labels",
                "data.train": "the training data", "data.eval": "the evaluation data",
                "data.task": "the task's declaration", "units": "the subset it trains on",
                "runs": "the scoring runs", "code": "the selection code"}


def differences(recorded: dict, wanted: dict) -> list[str]:
    """``key: recorded -> wanted`` for every (nested) key whose value differs, named for a reader."""
    a, b = flatten(recorded or {}), flatten(wanted)
    out = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key):
            what = next((label for k, label in WHAT_CHANGED.items() if key == k or key.startswith(k + ".")), None)
            change = f"{key}: {a.get(key, '(absent)')!r} -> {b.get(key, '(absent)')!r}"
            out.append(change if what is None else f"{what} ({change})")
    return out


@dataclass(frozen=True)
class Run:
    """A step, the identity its result must have now, and what the store holds of it."""

    step: Step
    identity: dict | None   # None: not known until the steps it depends on are done
    state: str              # one of STATES
    record: dict | None     # its step.json as on disk (None: absent or unreadable)
    problem: str = ""       # why it is not done (stale: what changed; corrupt: which file)

    @property
    def done(self) -> bool:
        return self.state == "done"

    @property
    def hash(self) -> str | None:
        return None if self.identity is None else identity_hash(self.identity)

    def describe(self) -> str:
        """``phase2/hscore--remove-0-6--6666: stale (the subset it trains on ...)`` for messages."""
        where = self.step.folder
        return f"{where} ({self.state}{': ' + self.problem if self.problem else ''})"


def judge(step: Step, identity: dict | None, why_unknown: str = "") -> Run:
    """The state of one step in the store against the identity it must have."""
    folder = step.folder
    marker = folder / STEP_FILE
    record = read_record(folder)
    if record is None and marker.exists():
        return Run(step, identity, "corrupt", None, f"{STEP_FILE} is unreadable")
    if record is None:
        if held(folder):
            return Run(step, identity, "running", None)
        return Run(step, identity, "pending" if identity is not None or not why_unknown else "waiting", None,
                   why_unknown)
    if identity is None:
        return Run(step, None, "waiting", record, why_unknown or "its inputs are not finished")
    if record.get("identity_hash") != identity_hash(identity):
        changed = differences(record.get("identity", {}), plain(identity))
        return Run(step, identity, "stale", record, "made from other inputs: " + ("; ".join(changed) or "unknown"))
    problem = verify(folder, record)
    if problem:
        return Run(step, identity, "corrupt", record, problem)
    return Run(step, identity, "done", record)


class PairRuns:
    """Every step of one pair's plan, judged against its inputs as they are now.

    The data identity is computed once (loading and capping the splits, no tokenizing; ``data``
    gives it when the caller has it), and only when something needs it: a step on disk to judge,
    or ``load_data`` (the scheduler, which dispatches steps with their identity). So ``hscore plan``
    of a profile nothing has run for reads no data (and needs no Hub). ``rejudge`` re-reads the
    steps that changed and what depends on them. ``subsets`` is what the phase-2 runs train on now
    (None while the scoring runs are not all done)."""

    def __init__(self, cfg: PairConfig, data: dict | None = None, load_data: bool = False):
        self.cfg = cfg
        self.steps = pair_steps(cfg)
        self.data: dict | None = data
        self.data_problem = ""   # why its data cannot be loaded here ('' when it can, or was not asked)
        self.deferred = data is None and not load_data and not any((s.folder / STEP_FILE).exists()
                                                                   for s in self.steps)
        if data is None and not self.deferred:
            try:
                task = get_task(cfg.task, cfg.declared)
                self.data = data_identity(task, pair_splits(task, cfg))
            except HScoreError as e:   # the data cannot be had here (no network, a file gone): nothing is done
                self.data_problem = str(e)
        self.subsets: selection.Subsets | None = None
        self.selection_problem = ""
        self.runs: dict[str, Run] = {}
        self.rejudge()

    def __getitem__(self, name: str) -> Run:
        return self.runs[name]

    def stage(self, stage: str) -> list[Run]:
        return [self.runs[s.name] for s in self.steps if s.stage == stage]

    def rejudge(self, names: set[str] | None = None) -> None:
        """Judge the steps named (all when None) and every step downstream of them, in plan order."""
        dirty = {s.name for s in self.steps} if names is None else set(names)
        for step in self.steps:
            upstream = {d.split("/", 2)[2] for d in step.deps}
            if step.name in self.runs and step.name not in dirty and not upstream & dirty:
                continue
            dirty.add(step.name)
            self.runs[step.name] = judge(step, *self._expected(step))
            if step.stage == "select":
                self._load_selection()

    def _expected(self, step: Step) -> tuple[dict | None, str]:
        """The identity ``step`` must have now, or (None, why it is not known yet)."""
        if self.deferred:
            return None, "" if step.stage == "score" else "its scoring runs are not all done"
        if self.data is None:
            return None, f"its data cannot be loaded ({self.data_problem})"
        if step.stage == "score":
            return {"stage": "score", **step.settings(), "data": self.data}, ""
        scoring = self.stage("score")
        if step.stage == "select":
            if not all(r.done for r in scoring):
                return None, "its scoring runs are not all done"
            return {"stage": "select", **step.settings(), "runs": [r.hash for r in scoring], "code": SELECT_CODE}, ""
        if step.stage == "finetune":
            if self.subsets is None:
                return None, self.selection_problem or "its scoring runs are not all done"
            positions = self.subsets.positions(step.method, step.subset, step.seed)
            return {"stage": "finetune", **step.settings(), "data": self.data,
                    "units": array_fingerprint(positions), "size": int(len(positions))}, ""
        done = {s.name: self.runs[s.name].hash for s in self.steps
                if s.stage in ("score", "finetune") and s.name in self.runs and self.runs[s.name].done}
        return {"stage": "tables", "runs": done, "code": TABLES_CODE}, ""

    def _load_selection(self) -> None:
        """What phase 2 trains on now: the select step's files when they are current, else the
        selection computed in memory from the scoring runs (when they are all done)."""
        self.subsets, self.selection_problem = None, ""
        select = self.runs.get("select")
        try:
            if select is not None and select.done:
                self.subsets = selection.load_subsets(self.cfg)
            elif all(r.done for r in self.stage("score")):
                self.subsets = selection.from_store(self.cfg).subsets
        except EmptySubsetError as e:
            self.selection_problem = str(e)

    # --- what readers and executors ask ------------------------------------------------------------

    def done(self, stage: str) -> list[Run]:
        return [r for r in self.stage(stage) if r.done]

    def problems(self, states=("stale", "corrupt")) -> list[Run]:
        return [r for r in self.runs.values() if r.state in states]


class Board:
    """Every pair's runs of a plan (``PairRuns``), judged now and again after each step."""

    def __init__(self, plan, judged: dict[str, PairRuns] | None = None, load_data: bool = False):
        self.plan = plan
        self.pairs = judged or {cfg.pair: PairRuns(cfg, load_data=load_data) for cfg in plan.configs}

    def run(self, step: Step) -> Run:
        return self.pairs[step.pair][step.name]

    def rejudge(self, step: Step) -> None:
        self.pairs[step.pair].rejudge({step.name})

    def runs(self) -> list[Run]:
        return [self.run(s) for s in self.plan.steps]

    def to_clean(self) -> tuple[list[Run], list[Run]]:
        """What ``hscore clean --stale`` deletes: (the stale and corrupt steps on disk, the finished
        phase-2 runs downstream of a stale scoring run). Those trained on a subset that the new
        scoring decides (every method but the full set) would be stale once it is redone, so one
        clean and one run are enough; a corrupt scoring run is redone identically and takes nothing
        with it."""
        bad = [r for r in self.runs() if r.state in ("stale", "corrupt") and r.step.folder.exists()]
        rescored = {r.step.pair for r in bad if r.step.stage == "score" and r.state == "stale"}
        downstream = [r for r in self.runs() if r.step.pair in rescored and r.step.stage == "finetune"
                      and r.step.method != "full" and r not in bad and (r.step.folder / STEP_FILE).exists()]
        return bad, downstream
