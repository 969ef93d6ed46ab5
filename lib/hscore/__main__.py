"""Command line: ``python -m hscore COMMAND --profile P`` (also installed as ``hscore``).

- ``plan``: validate the profile and list its steps with their state (done, pending, running,
  stale) and the finished runs the tables ignore. Nothing runs.
- ``run``: run the plan's unfinished steps: here (``--executor local``, the default), in N worker
  processes (``--jobs N``), or as Slurm job arrays (``--executor slurm``; ``submitit-local`` tries
  the same path on this machine). ``--stage score`` runs phase 1 only.
- ``reproduce``: ``run``, then papermill executes the notebooks (they find every run finished and
  only show results), then the book is built. ``execute`` and ``book`` are those two parts alone.
- ``score``: phase 1 alone (the scoring runs and the subsets), then each pair's H histogram.
- ``prune``: your own data: ``--task NAME`` (declared in ``tasks:`` of study.yaml, or built in) or
  ``--file F --text COLUMN --label COLUMN``, with ``--model``: phase 1 (``--evaluate``: phase 2
  too), then the scores, every subset in the input's format and a report (``hscore.prune``).
- ``pairs``: list the profile's model-task pairs. ``clean``: delete the profile's results and
  executed notebooks (where ``HSCORE_RESULTS_DIR`` and ``HSCORE_BOOK_DIR`` point).

Every error is one line (``hscore: error: ...``) and exit status 2; finished steps are kept.
"""

from __future__ import annotations

import argparse
import shutil
import sys

from . import config, paths
from .errors import HScoreError

COMMANDS = ("plan", "run", "score", "reproduce", "execute", "book", "pairs", "clean", "prune")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hscore", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("--profile", default="default", help="a profile of study.yaml (default: %(default)s)")
    parser.add_argument("--pair", action="append", metavar="MODEL/TASK",
                        help="only this pair (repeatable; default: every pair of the profile)")
    run = parser.add_argument_group("running (run, reproduce)")
    run.add_argument("--executor", choices=("local", "slurm", "submitit-local"), default="local")
    run.add_argument("--jobs", default="1", metavar="N|auto",
                     help="local: N worker processes (one GPU each where there are GPUs; else the CPU cores split "
                          "between them); auto: one per GPU, or 2 on a CPU with 2 cores or more (default: 1)")
    run.add_argument("--stage", choices=("score", "finetune"), action="append",
                     help="only these stages (repeatable): score = phase 1, finetune = phase 2")
    own = parser.add_argument_group("prune: your own data")
    own.add_argument("--task", help="a task declared in study.yaml (tasks:) or built in")
    own.add_argument("--model", default="minilm", help="a model of study.yaml (default: %(default)s)")
    own.add_argument("--file", help="a CSV, TSV, JSON Lines or Parquet file (instead of --task)")
    own.add_argument("--validation-file", help="with --file: its validation data (default: a 10%% split)")
    own.add_argument("--text", action="append", metavar="COLUMN", help="text column (twice for sentence pairs)")
    own.add_argument("--label", metavar="COLUMN", help="label column")
    own.add_argument("--id", metavar="COLUMN", help="id column (optional, unique)")
    own.add_argument("--encoding", default="utf-8", help="of a CSV/TSV/JSON file (default: %(default)s)")
    own.add_argument("--drop-empty", action="store_true", help="drop rows with an empty text (and say how many)")
    own.add_argument("--evaluate", action="store_true", help="also phase 2: fine-tune on the subsets")
    own.add_argument("--out", help="where the pruned files go (default: results/<profile>/<model>/<task>/pruned)")
    slurm = parser.add_argument_group("Slurm resources per job (override the cluster section of study.yaml)")
    slurm.add_argument("--partition")
    slurm.add_argument("--account")
    slurm.add_argument("--qos")
    slurm.add_argument("--time-min", type=int)
    slurm.add_argument("--gpus", type=int, dest="gpus_per_task")
    slurm.add_argument("--cpus", type=int, dest="cpus_per_task")
    slurm.add_argument("--mem-gb", type=int)
    slurm.add_argument("--max-parallel", type=int)
    return parser


def _show_plan(plan) -> None:
    from .results import ignored, step_state

    print(f"profile {plan.profile}: {config.describe(plan.profile)}")
    for cfg in plan.configs:
        states: dict[str, dict[str, int]] = {}
        for step in plan.of_pair(cfg):
            by_state = states.setdefault(step.stage, {})
            state = step_state(step)
            by_state[state] = by_state.get(state, 0) + 1
        parts = [f"{stage} {sum(n.values())} ({', '.join(f'{v} {k}' for k, v in sorted(n.items()))})"
                 for stage, n in states.items()]
        print(f"  {cfg.model}/{cfg.task}: " + "; ".join(parts))
        for line in ignored(cfg):
            print(f"    ignored: {line}")
    counts = plan.counts()
    print(f"{len(plan.steps)} steps: {counts['score']} scoring runs, {counts['select']} selections, "
          f"{counts['finetune']} phase-2 runs")


def _run(plan, args) -> None:
    from . import executors

    jobs = executors.resolve_jobs(args.jobs)
    if args.executor == "local":
        for cfg in plan.configs:  # stop before anything runs: no GPU where one is required
            from .device import pick_device

            pick_device(cfg.require_gpu)
        outcome = executors.run_local(plan, jobs=jobs, stages=args.stage)
    else:
        cluster = config.cluster_config(plan.profile, **{k: getattr(args, k) for k in (
            "partition", "account", "qos", "time_min", "gpus_per_task", "cpus_per_task", "mem_gb", "max_parallel")})
        outcome = executors.run_submitit(plan, cluster, backend="local" if args.executor == "submitit-local"
                                         else "slurm", stages=args.stage)
    print(f"[{plan.profile}] {len(outcome.trained)} runs trained, {len(outcome.finished)} found finished")


def _prune(args) -> None:
    import re
    from pathlib import Path

    from . import tasks
    from .declared import declared_task, parse_spec
    from .errors import ConfigError
    from .executors import resolve_jobs
    from .prune import prune

    jobs = resolve_jobs(args.jobs)
    if args.file:
        if args.task or not args.text or not args.label:
            raise ConfigError("prune --file needs --text COLUMN (twice for pairs) and --label COLUMN, and no --task")
        path = Path(args.file).resolve()
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem)
        name = name if name not in tasks.TASKS else f"file_{name}"
        raw = {"file": str(path), "text": args.text[0] if len(args.text) == 1 else args.text, "label": args.label,
               "id": args.id, "encoding": args.encoding, "drop_empty": args.drop_empty}
        if args.validation_file:
            raw = {**raw, "train_file": raw.pop("file"), "validation_file": str(Path(args.validation_file).resolve())}
        tasks.register(declared_task(name, parse_spec(name, raw), Path.cwd()))
        jobs = 1   # the task lives in this process only
    elif args.task:
        name = args.task
    else:
        raise ConfigError("prune needs --task NAME (declared in study.yaml or built in) or --file F --text C --label C")
    cfg = config.pair_config(args.profile, args.model, name, listed=False)
    out = prune(cfg, args.out, evaluate=args.evaluate, jobs=jobs)
    print(f"pruned: {out} (report.md, scores.parquet, winning_ticket and every subset)")


def _show_scores(plan) -> None:
    from .scores import h_histogram
    from .selection import load_scores, load_subsets

    for cfg in plan.configs:
        scores = load_scores(cfg)
        hist = h_histogram(scores["h"].to_numpy(), cfg.runs)
        print(f"{cfg.model}/{cfg.task}: H histogram " + ", ".join(f"H={h}: {n}" for h, n in hist.items()))
        print(load_subsets(cfg).table().round(1).to_string(index=False))


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "prune":
            _prune(args)
            return 0
        if args.command == "clean":
            for folder in (paths.profile_dir(args.profile), paths.executed_dir(args.profile)):
                if folder.exists():
                    shutil.rmtree(folder)
                    print(f"deleted {folder}")
            return 0
        from . import plan as plan_module

        plan = plan_module.build(args.profile, args.pair,
                                 check_writable=args.command in ("run", "score", "reproduce"))
        if args.command == "pairs":
            print(config.describe(args.profile))
            for cfg in plan.configs:
                print(f"{cfg.model}/{cfg.task}")
        elif args.command == "plan":
            _show_plan(plan)
        elif args.command == "score":
            args.stage = ["score", "select"]
            _run(plan, args)
            _show_scores(plan)
        elif args.command == "run":
            _run(plan, args)
            from .summary import profile_summary

            table = profile_summary(args.profile)
            if not table.empty:
                print(table.to_string())
        else:
            from . import book

            if args.command == "reproduce":
                _run(plan, args)
            if args.command in ("reproduce", "execute"):
                book.execute(plan)
            if args.command in ("reproduce", "book"):
                print(f"book: {book.build(args.profile)}")
    except HScoreError as e:
        print(f"hscore: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hscore: interrupted; finished steps are kept, run the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
