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
  too), then the scores, every subset in the input's format and a report (``hscore.report.prune``).
- ``select RUN_DIR...``: H-scores and subsets from runs recorded anywhere (a Hugging Face ``Trainer`` run
  with ``hscore.engine.recorder``, the study's ``phase1/run-*``): the runs are checked to cover the same
  examples with the same labels, then the scores, the subsets and their baselines go to ``--out``
  (default: ``select/`` beside the runs; ``hscore.study.select_runs``). No study.yaml is read.
- ``check --gpu``: the GPU check (``hscore.gpu_check``; ``make gpu-check``): the CUDA tests, the engine's
  speed against the Trainer, the ``gpu-kinds`` profile, a record and a page under ``benchmarks/gpu/``;
  ``--dry-run`` says what it would run and checks its packages on any machine.
- ``findings``: the profile's answer from its results (verdict, claims table; for ``sensitivity`` and
  ``transfer``, their chapter's sentences) in the terminal; with ``--out DIR`` also ``DIR/<profile>.md``
  (and ``.png`` for a verdict), what the README shows (``make findings``).
- ``pairs``: list the profile's model-task pairs. ``clean``: delete one profile's results and
  executed notebooks (where ``HSCORE_RESULTS_DIR`` and ``HSCORE_BOOK_DIR`` point), or with
  ``--stale`` only its stale and corrupt steps; it says what it deletes and asks (``--yes``: don't).

Every error is one line (``hscore: error: ...``) and exit status 2; finished steps are kept. Each
command imports what it needs when it runs, so ``hscore plan`` and ``hscore clean`` load no torch.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import signal
import sys
import warnings
from pathlib import Path

from . import config, gpu_check, paths
from .errors import ConfigError, HScoreError

# The modules of the hscore[study] extra (pyproject.toml): a lean install lacks them
STUDY_PACKAGES = ("papermill", "nbformat", "nbclient", "ipykernel", "IPython", "jupyter_book", "sphinx", "matplotlib",
                  "seaborn", "submitit", "cleanlab")
COMMANDS = ("plan", "run", "score", "reproduce", "execute", "book", "pairs", "clean", "prune", "select", "check",
            "findings")


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
    clean = parser.add_argument_group("clean")
    clean.add_argument("--stale", action="store_true",
                       help="only the steps that are stale or corrupt, and the phase-2 runs trained on subsets that a "
                            "stale scoring run decides")
    clean.add_argument("--yes", action="store_true", help="do not ask before deleting")
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
    own.add_argument("--train-cap", type=int, metavar="N", help="score a seeded sample of N training examples")
    own.add_argument("--out", help="where the pruned files go (default: results/<profile>/<model>/<task>/pruned); "
                                   "select: where the scores and subsets go (default: select/ beside the runs)")
    chosen = parser.add_argument_group("select: runs recorded anywhere (hscore select RUN_DIR... [--out DIR])")
    chosen.add_argument("runs", nargs="*", metavar="RUN_DIR", help="select: the recorded runs, in order")
    chosen.add_argument("--baselines", nargs="*", default=["random", "ambiguous"], metavar="NAME",
                        help="select: size-matched baselines (default: %(default)s)")
    chosen.add_argument("--phase2-seeds", nargs="+", type=int, default=[6666], metavar="SEED",
                        help="select: the seeds random baselines are drawn with (default: %(default)s)")
    chosen.add_argument("--cheaper-ticket", type=float, metavar="JACCARD",
                        help="select: also the ticket of the cheapest scoring overlapping the winning ticket this much")
    chosen.add_argument("--score-unit", choices=("feature", "example"), default="feature",
                        help="select: H per recorded row (QA window, option row) or per example (default: %(default)s)")
    chosen.add_argument("--class-floor", type=float, metavar="FRACTION",
                        help="select, prune: also the subsets (prune: the winning ticket) with each class restored to "
                             "at least this fraction of its share (0.5: half), as method floor")
    chosen.add_argument("--label-names", nargs="+", metavar="NAME", help="select: the class names, for the warnings")
    chosen.add_argument("--allow-other-data", action="store_true",
                        help="select: stack runs recorded on other training rows (refused by default)")
    gpu = parser.add_argument_group("check: the GPU check (hscore.gpu_check)")
    gpu.add_argument("--gpu", action="store_true", help="check: the CUDA path, the engine's speed, gpu-kinds")
    gpu.add_argument("--dry-run", action="store_true", help="check: print the parts and check the packages only")
    gpu.add_argument("--wheels", help="check: the folder of wheels for missing packages (default: wheels/)")
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


STAGES = {"score": ("score", "select"), "finetune": ("finetune", "tables")}  # --stage -> the plan's stages


def _stages(args) -> tuple[str, ...] | None:
    return None if not args.stage else tuple(s for name in args.stage for s in STAGES[name])


def _show_plan(plan) -> None:
    from .study.results import PairResults
    from .study.run import Board

    board = Board(plan)
    print(f"profile {plan.profile}: {config.describe(plan.profile)}")
    for cfg in plan.configs:
        runs = board.pairs[cfg.pair]
        states: dict[str, dict[str, int]] = {}
        for run in runs.runs.values():   # cleanlab's cross-validation runs apart from the scoring runs
            by_state = states.setdefault("crossval" if run.step.fold is not None else run.step.stage, {})
            by_state[run.state] = by_state.get(run.state, 0) + 1
        parts = [f"{stage} {sum(n.values())} ({', '.join(f'{v} {k}' for k, v in sorted(n.items()))})"
                 for stage, n in states.items()]
        print(f"  {cfg.pair}: " + "; ".join(parts))
        if runs.data_problem:
            print(f"    its data cannot be loaded: {runs.data_problem}")
        for line in PairResults(cfg, runs).ignored():
            print(f"    left out: {line}")
    counts = plan.counts()
    folds = sum(s.fold is not None for s in plan.steps)
    scoring = f"{counts['score'] - folds} scoring runs" + (f", {folds} cross-validation runs (cleanlab)"
                                                           if folds else "")
    print(f"{len(plan.steps)} steps: {scoring}, {counts['select']} selections, "
          f"{counts['finetune']} phase-2 runs, {counts['tables']} tables")


def _run(plan, args) -> None:
    from .engine.device import pick_device
    from .study import executors
    from .study.plan import check_sources

    for cfg in plan.configs:  # stop before anything runs: no GPU where one is required, a source missing
        pick_device(cfg.require_gpu)
    check_sources(plan)
    jobs = executors.resolve_jobs(args.jobs)
    cluster = None
    if args.executor != "local":
        cluster = config.cluster_config(plan.profile, **{k: getattr(args, k) for k in (
            "partition", "account", "qos", "time_min", "gpus_per_task", "cpus_per_task", "mem_gb", "max_parallel")})
    outcome = executors.run(plan, args.executor, jobs, _stages(args), cluster)
    print(f"[{plan.profile}] {len(outcome.trained)} runs trained, {len(outcome.finished)} found finished")


def _prune(args) -> None:
    from .report.prune import declare_file, prune
    from .study.executors import resolve_jobs

    jobs = resolve_jobs(args.jobs)
    tasks = None
    if args.file:
        if args.task or not args.text or not args.label:
            raise ConfigError("prune --file needs --text COLUMN (twice for pairs) and --label COLUMN, and no --task")
        name, spec = declare_file(args.file, args.text, args.label, args.id, args.encoding, args.drop_empty,
                                  args.validation_file)
        tasks = {name: spec}
    elif args.task:
        name = args.task
    else:
        raise ConfigError("prune needs --task NAME (declared in study.yaml or built in) or --file F --text C --label C")
    cfg = config.pair_config(args.profile, args.model, name, listed=False, tasks=tasks)
    if args.train_cap is not None:
        cfg = dataclasses.replace(cfg, train_cap=args.train_cap)
    if args.class_floor is not None:
        cfg = dataclasses.replace(cfg, class_floor=args.class_floor)
    out, notes, warned = prune(cfg, args.out, evaluate=args.evaluate, jobs=jobs, executor=args.executor)
    for note in notes:
        print(f"hscore: note: {note}")
    for line in warned:
        print(f"hscore: warning: {line}")
    print(f"pruned: {out} (report.md, scores.parquet, winning_ticket and every subset)")


def _select(args) -> None:
    from .pruning.scores import h_histogram
    from .study.select_runs import select

    with warnings.catch_warnings():   # the class warnings: printed below as hscore's own lines
        warnings.filterwarnings("ignore", message="class '", category=UserWarning)
        chosen = select(args.runs, baselines=args.baselines, phase2_seeds=args.phase2_seeds,
                        cheaper_ticket=args.cheaper_ticket, score_unit=args.score_unit, class_floor=args.class_floor,
                        label_names=args.label_names, allow_other_data=args.allow_other_data)
    out = Path(args.out) if args.out else Path(args.runs[0]).resolve().parent / "select"
    chosen.write(out)
    for note in chosen.notes:
        if note not in chosen.warnings:
            print(f"hscore: note: {note}")
    for line in chosen.warnings:
        print(f"hscore: warning: {line}")
    hist = h_histogram(chosen.scores["h"].to_numpy(), chosen.dynamics.runs)
    print(f"{chosen.dynamics.runs} runs x {chosen.dynamics.epochs} epochs, {len(chosen.scores)} "
          f"{'examples' if args.score_unit == 'example' else 'rows'}: H histogram "
          + ", ".join(f"H={h}: {n}" for h, n in hist.items()))
    print(chosen.table().round(1).to_string(index=False))
    print(chosen.class_balance(args.label_names).round(1).to_string(index=False))
    print(f"selected: {out} (scores.parquet, subsets.npz, subsets.json; in Python: hscore.select(...).to_dataset)")


def _findings(args) -> None:
    from .analysis.findings import claims, finding_lines, overall, profile_findings
    from .report.front import question_answers, question_markdown, write_front_page_findings

    answers = question_answers(args.profile)   # a profile that asks a question: its chapters' sentences
    if answers is not None:
        print(question_markdown(args.profile, answers=answers).replace("*", ""), end="")
    else:
        found = profile_findings(args.profile)
        print(f"{args.profile}: {overall(found)}")
        for line in finding_lines(found):
            print("  " + line.replace("**", ""))
        if found:
            print(claims(found).to_string(index=False))
    if args.out:
        for path in write_front_page_findings(args.profile, Path(args.out).resolve(), answers):
            print(f"wrote {path}")


def _show_scores(plan) -> None:
    from .pruning.scores import h_histogram
    from .study.results import PairResults

    for cfg in plan.configs:
        pair = PairResults(cfg)
        scores = pair.scores()
        hist = h_histogram(scores["h"].to_numpy(), cfg.runs)
        print(f"{cfg.pair}: H histogram " + ", ".join(f"H={h}: {n}" for h, n in hist.items()))
        print(pair.subsets().table().round(1).to_string(index=False))
    _class_warnings(plan)


def _class_warnings(plan) -> None:
    """One ``hscore: warning:`` line per class that a pair's H-score subsets drop or thin out (its selection
    made; ``hscore.pruning.classes``)."""
    from .data import get_task
    from .study import selection

    for cfg in plan.configs:
        if not paths.subsets_files(cfg.results_dir)[0].is_file():
            continue
        chosen = selection.Selection(selection.load_scores(cfg), selection.load_subsets(cfg))
        for line in chosen.class_warnings(get_task(cfg.task, cfg.declared).label_names):
            print(f"hscore: warning: {cfg.pair}: {line}")


def _clean(args) -> None:
    """Delete one profile's results (or only its stale steps), after saying what and asking."""
    study = config.load_study()
    if args.profile not in study["profiles"]:
        raise ConfigError(f"--profile {args.profile!r} is not a profile of {paths.study_file()}; it has: "
                          f"{', '.join(study['profiles'])}")
    if args.stale:
        from .study.plan import build
        from .study.run import Board

        plan = build(args.profile, args.pair, study, check_writable=False)
        bad, downstream = Board(plan).to_clean()
        targets = [run.step.folder for run in bad + downstream]
        if downstream:
            print(f"{len(downstream)} phase-2 run(s) were trained on subsets that the stale scoring runs decide: "
                  "they go too")
    else:
        targets = [f for f in (paths.profile_dir(args.profile), paths.executed_dir(args.profile)) if f.exists()]
        if args.pair:
            pairs = [config.parse_pair(p) for p in args.pair]
            targets = [f for f in (paths.pair_dir(args.profile, m, t) for m, t in pairs) if f.exists()]
    if not targets:
        print("nothing to delete")
        return
    files = sum(1 for f in targets for p in Path(f).rglob("*") if p.is_file())
    print(f"hscore clean will delete {len(targets)} folder(s) ({files} files):")
    for folder in targets[:20]:
        print(f"  {folder}")
    if len(targets) > 20:
        print(f"  ... and {len(targets) - 20} more")
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigError("hscore clean asks before deleting; run it in a terminal, or add --yes")
        if input("Delete them? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return
    for folder in targets:
        shutil.rmtree(folder)
        print(f"deleted {folder}")


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_intermixed_args(argv)
    if args.runs and args.command != "select":
        parser.error(f"unrecognized arguments: {' '.join(args.runs)} (RUN_DIR arguments are for `hscore select`)")
    if args.command == "check":
        if not args.gpu:
            parser.error("check needs --gpu (the GPU check is the one check there is)")
        return gpu_check.main([*(["--dry-run"] if args.dry_run else []), *(["--wheels", args.wheels] if args.wheels
                                                                            else [])])
    try:
        if args.command == "select":
            _select(args)
            return 0
        if args.command == "prune":
            _prune(args)
            return 0
        if args.command == "clean":
            _clean(args)
            return 0
        from .study import plan as plan_module

        plan = plan_module.build(args.profile, args.pair,
                                 check_writable=args.command in ("run", "score", "reproduce"))
        if args.command == "pairs":
            print(config.describe(args.profile))
            for cfg in plan.configs:
                print(f"{cfg.model}/{cfg.task}")
        elif args.command == "plan":
            _show_plan(plan)
            plan_module.check_sources(plan)
        elif args.command == "findings":
            _findings(args)
        elif args.command == "score":
            args.stage = ["score"]
            _run(plan, args)
            _show_scores(plan)
        elif args.command == "run":
            _run(plan, args)
            from .analysis.tables import display_columns, profile_summary

            table = profile_summary(args.profile)
            if not table.empty:
                print(display_columns(table).to_string(index=False))
            _class_warnings(plan)
        else:
            from .report import book

            if args.command == "reproduce":
                _run(plan, args)
                _class_warnings(plan)
            if args.command in ("reproduce", "execute"):
                book.execute(plan)
            if args.command in ("reproduce", "book"):
                print(f"book: {book.build(args.profile)}")
    except HScoreError as e:
        print(f"hscore: error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:   # a lean install (no hscore[study]) asked for the notebooks, the book, Slurm
        if (e.name or "").split(".")[0] not in STUDY_PACKAGES:
            raise
        print(f"hscore: error: hscore {args.command} needs the study's packages ({e.name} is not installed): "
              "pip install -e '.[study]' in the clone, or make venv", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # a second Ctrl-C while saying so changes nothing
        print("hscore: interrupted; finished steps are kept, run the same command to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
