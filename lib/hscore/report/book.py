"""Papermill runs and the Jupyter Book build for a profile.

One plan (``hscore.study.plan``: the profile's pairs in ``study.yaml``) drives both: papermill executes
``notebooks/scoring.ipynb`` and ``notebooks/pruning.ipynb`` once per model-task pair and
the profile-level chapters (``PROFILE_NOTEBOOKS``: summary, statistics, cost,
fairness, what is pruned) once per profile, writing the executed copies to
``book/executed/<profile>/``; the book's table of contents is generated from the same matrix. The
book never executes anything (``execute_notebooks: off``) and builds with warnings as errors, so a
broken notebook fails the build instead of rendering an error. MathJax is copied from the
``django-static-mathjax`` package into the book, so the rendered HTML reads offline too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .. import config, paths
from ..data import get_task
from ..data.packaged import package_dir
from ..errors import CorruptResultError, HScoreError
from ..files import atomic_write_bytes
from ..study.run import Board

PAIR_NOTEBOOKS = ("scoring", "pruning")
PROFILE_NOTEBOOKS = {"summary": "Summary: winning tickets", "statistics": "Seeds, statistics and baselines",
                     "cost": "Cost and cheaper scoring", "fairness": "Fairness and class balance",
                     "pruned": "What is pruned"}  # notebook -> chapter title, once per profile
# Chapters only some profiles have: notebook -> (title, whether a profile's resolved pairs have its results)
OPTIONAL_NOTEBOOKS = {
    "sensitivity": ("Sensitivity of the winning ticket",
                    lambda cfgs: any(c.variants and c.scoring_checkpoint is None for c in cfgs)),
    "transfer": ("A small model's ticket for a larger one", lambda cfgs: any(c.scoring_checkpoint is not None
                                                                             for c in cfgs)),
}
GUIDE_NOTEBOOKS = {"trainer": "Score your own Trainer run"}  # notebook -> page under Method; reads benchmarks/
MATHJAX_FILE = ("static", "mathjax", "es5", "tex-svg.js")  # inside the django-static-mathjax package


def profile_notebooks(configs) -> dict[str, str]:
    """The profile-level chapters of a profile's pairs: every profile's, then those only its results have."""
    return {**PROFILE_NOTEBOOKS, **{name: title for name, (title, has) in OPTIONAL_NOTEBOOKS.items() if has(configs)}}


class NotebookFailed(HScoreError, RuntimeError):
    """A notebook raised during papermill execution."""


def _kernel_env() -> None:
    """Make the ``python3`` kernel that papermill starts be this interpreter."""
    bindir = str(Path(sys.executable).parent)
    if not os.environ.get("PATH", "").startswith(bindir + os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def execute_notebook(name: str, output: Path, parameters: dict) -> Path:
    """Run ``notebooks/<name>.ipynb`` with papermill; the executed copy replaces ``output`` only on success."""
    import papermill  # heavy, and only for executing notebooks

    _kernel_env()
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.stem + ".running.ipynb")
    try:
        papermill.execute_notebook(str(paths.NOTEBOOKS / f"{name}.ipynb"), str(partial), parameters=parameters,
                                   kernel_name="python3", cwd=str(paths.NOTEBOOKS), progress_bar=True)
    except Exception as e:  # PapermillExecutionError and kernel deaths alike
        failed = output.with_name(output.stem + ".failed.ipynb")
        if partial.exists():
            os.replace(partial, failed)
        raise NotebookFailed(f"{name}.ipynb failed with parameters {parameters}: {e}\n"
                             f"The executed copy with the error is {failed}; finished steps are kept, so "
                             "running again resumes where it stopped.") from e
    os.replace(partial, output)
    return output


def execute(plan) -> list[Path]:
    """Execute the notebooks of a plan's pairs, then the profile's chapters.

    The notebooks only read results (``hscore reproduce`` runs the plan first); a result file that
    does not match its checksum stops here, in one line naming its folder, before any notebook."""
    profile, configs = plan.profile, plan.configs
    for cfg in configs:  # data downloads show here, not inside a kernel
        print(f"[{profile}] data of {cfg.pair}", flush=True)
        get_task(cfg.task, cfg.declared).load(cfg.data_seed)
    corrupt = [run for run in Board(plan).runs() if run.state == "corrupt"]
    if corrupt:
        raise CorruptResultError(f"{len(corrupt)} result(s) do not match the checksums written with them: "
                                 + " | ".join(r.describe() for r in corrupt[:3])
                                 + f". Delete those folders (`hscore clean --profile {profile} --stale`) and run "
                                 f"`hscore run --profile {profile}` again")
    done = []
    for cfg in configs:
        for name in PAIR_NOTEBOOKS:
            print(f"[{profile}] {cfg.model}/{cfg.task}: {name}", flush=True)
            done.append(execute_notebook(name, paths.executed_notebook(profile, name, cfg.model, cfg.task),
                                         {"profile": profile, "model": cfg.model, "task": cfg.task}))
    for name in profile_notebooks(configs):
        print(f"[{profile}] {name}", flush=True)
        done.append(execute_notebook(name, paths.executed_notebook(profile, name), {"profile": profile}))
    for name in GUIDE_NOTEBOOKS:
        print(f"[{profile}] {name}", flush=True)
        done.append(execute_notebook(name, paths.executed_notebook(profile, name), {}))
    return done


def _profile_parts(profile: str, rel) -> list[dict]:
    """The book's parts for one profile's executed notebooks: a chapter per pair, then its results."""
    chapters = []
    for model, task in config.pairs(profile):
        scoring, pruning = (paths.executed_notebook(profile, n, model, task) for n in PAIR_NOTEBOOKS)
        if scoring.exists():
            chapter = {"file": rel(scoring), "title": f"{model} / {task}"}
            if pruning.exists():
                chapter["sections"] = [{"file": rel(pruning), "title": "Pruning: phase 2"}]
            chapters.append(chapter)
    notebooks = profile_notebooks(config.profile_configs(profile))
    results = [{"file": rel(path), "title": f"{title} ({profile})"} for name, title in notebooks.items()
               if (path := paths.executed_notebook(profile, name)).exists()]
    if not chapters or not results:
        return []
    return [{"caption": f"Model-task pairs (profile {profile})", "chapters": chapters},
            {"caption": f"Results (profile {profile})", "chapters": results}]


def write_toc(profile: str) -> Path:
    """``book/_toc.yml``: the introduction and method, then the chapters of ``profile`` and of every
    other profile whose notebooks have been executed (so one book shows the default profile and,
    say, ``offline-kinds`` side by side)."""
    book = paths.book_dir()
    rel = lambda p: p.relative_to(book).with_suffix("").as_posix()
    parts = _profile_parts(profile, rel)
    if not parts:
        raise HScoreError(f"no executed notebooks of profile {profile!r} under {paths.executed_dir(profile)}: "
                          f"run `make reproduce PROFILE={profile}` first")
    for other in config.profiles():
        if other != profile:
            parts += _profile_parts(other, rel)
    guides = [{"file": rel(path), "title": title} for name, title in GUIDE_NOTEBOOKS.items()
              if (path := paths.executed_notebook(profile, name)).exists()]
    toc = {"format": "jb-book", "root": "intro", "parts": [
        {"caption": "Method", "chapters": [{"file": "method"}, {"file": "reproduce"}, {"file": "own-data"},
                                           *guides]}, *parts]}
    path = book / "_toc.yml"
    atomic_write_bytes(path, ("# Generated by hscore.report.book.write_toc from study.yaml; do not edit.\n"
                              + yaml.safe_dump(toc, sort_keys=False)).encode())
    return path


def install_mathjax() -> Path:
    """Copy MathJax (SVG output, one self-contained file) into the book's static folder."""
    source = package_dir("mathjax").joinpath(*MATHJAX_FILE)
    if not source.exists():
        raise HScoreError(f"{source} is missing: install django-static-mathjax==3.2.2.1 (--no-deps)")
    target = paths.book_dir() / "_static" / "mathjax" / "tex-svg.js"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def build(profile: str) -> Path:
    """Build the HTML book of a profile from its executed notebooks; returns the index page."""
    write_toc(profile)
    install_mathjax()
    book = paths.book_dir()
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(book), "--builder", "html",
           "-W", "-n", "--keep-going"]
    if subprocess.run(cmd).returncode != 0:
        raise HScoreError(f"the book did not build (command: {' '.join(cmd)}); the messages above say why")
    return book / "_build" / "html" / "index.html"
