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

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from .. import config, paths
from ..analysis.noise import is_noise_pair
from ..analysis.scaling import scaling_of
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
    "scaling": ("How the ticket changes with the size of the data", lambda cfgs: bool(scaling_of(cfgs))),
    "noise": ("What H = 0 holds: label noise", lambda cfgs: any(is_noise_pair(c) for c in cfgs)),
}
GUIDE_NOTEBOOKS = {"trainer": "Score your own Trainer run"}  # notebook -> page under Method; reads benchmarks/
MATHJAX_FILE = ("static", "mathjax", "es5", "tex-svg.js")  # inside the django-static-mathjax package
# The records the *Reproducing* page includes, copied into the book's source at build time:
# book file <- benchmarks file (the GPU check's page; the question profiles' answers, by `make findings`)
RECORD_PAGES = {"_gpu_check.md": "gpu/README.md", "_sensitivity.md": "findings/sensitivity.md",
                "_transfer.md": "findings/transfer.md", "_scaling.md": "findings/scaling.md",
                "_classes.md": "findings/classes.md", "_noise.md": "findings/noise.md"}
LANDING_PAGE = "_landing.md"       # the answer of each profile in the book, written at build time for intro.md


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


def page_title(name: str, profile: str | None = None, model: str | None = None, task: str | None = None) -> str:
    """A page's title, the same in its H1, the browser's title and the table of contents: the pair or
    the profile in every one, so that no two pages share a title."""
    if model is not None:
        return f"{model} / {task}: " + {"scoring": "phase 1, scoring", "pruning": "phase 2, pruning"}[name]
    if name in GUIDE_NOTEBOOKS:
        return GUIDE_NOTEBOOKS[name]
    title = {**PROFILE_NOTEBOOKS, **{n: t for n, (t, _) in OPTIONAL_NOTEBOOKS.items()}}[name]
    return f"{title} ({profile})"


def _as_page(path: Path, title: str) -> None:
    """The executed notebook as a page: its first heading becomes ``title``, and the notebook's own
    parameters cell is left out of the book (papermill's injected cell after it shows the values used)."""
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown" and "".join(cell["source"]).startswith("# "):
            lines = "".join(cell["source"]).split("\n")
            cell["source"] = "\n".join([f"# {title}", *lines[1:]])
            break
    for cell in nb["cells"]:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "parameters" in tags and "injected-parameters" not in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def execute_notebook(name: str, output: Path, parameters: dict, title: str | None = None) -> Path:
    """Run ``notebooks/<name>.ipynb`` with papermill; the executed copy replaces ``output`` only on success.
    With ``title``, the copy is made a book page (``_as_page``)."""
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
    if title is not None:
        _as_page(partial, title)
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
                                         {"profile": profile, "model": cfg.model, "task": cfg.task},
                                         page_title(name, profile, cfg.model, cfg.task)))
    for name in profile_notebooks(configs):
        print(f"[{profile}] {name}", flush=True)
        done.append(execute_notebook(name, paths.executed_notebook(profile, name), {"profile": profile},
                                     page_title(name, profile)))
    for name in GUIDE_NOTEBOOKS:
        print(f"[{profile}] {name}", flush=True)
        done.append(execute_notebook(name, paths.executed_notebook(profile, name), {}, page_title(name)))
    return done


def _profile_parts(profile: str, rel) -> list[dict]:
    """The book's parts for one profile's executed notebooks: its results first, then a chapter per
    pair (scoring, with pruning as its section); every title is the page's own (``page_title``)."""
    chapters = []
    for model, task in config.pairs(profile):
        scoring, pruning = (paths.executed_notebook(profile, n, model, task) for n in PAIR_NOTEBOOKS)
        if scoring.exists():
            chapter = {"file": rel(scoring), "title": page_title("scoring", profile, model, task)}
            if pruning.exists():
                chapter["sections"] = [{"file": rel(pruning), "title": page_title("pruning", profile, model, task)}]
            chapters.append(chapter)
    notebooks = profile_notebooks(config.profile_configs(profile))
    results = [{"file": rel(path), "title": page_title(name, profile)} for name in notebooks
               if (path := paths.executed_notebook(profile, name)).exists()]
    if not chapters or not results:
        return []
    return [{"caption": f"Results (profile {profile})", "chapters": results},
            {"caption": f"Model-task pairs (profile {profile})", "chapters": chapters}]


def book_profiles(profile: str) -> list[str]:
    """The profiles the book shows: ``profile``, then every other one whose notebooks were executed."""
    rel = lambda p: p
    return [profile, *(other for other in config.profiles() if other != profile and _profile_parts(other, rel))]


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
    for other in book_profiles(profile)[1:]:
        parts += _profile_parts(other, rel)
    guides = [{"file": rel(path), "title": page_title(name)} for name in GUIDE_NOTEBOOKS
              if (path := paths.executed_notebook(profile, name)).exists()]
    toc = {"format": "jb-book", "root": "intro", "parts": [
        {"caption": "Method", "chapters": [{"file": "method"}, {"file": "reproduce"}, {"file": "own-data"},
                                           *guides, {"file": "package"}]}, *parts]}
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


def write_landing(profile: str) -> Path:
    """``book/_landing.md``, which the landing page includes: the answer of every profile in the book
    (findings, limits, claims; ``display.findings_markdown``), then what the book holds, both computed
    from the results and the table of contents."""
    from .display import findings_markdown  # here: display loads matplotlib
    from .front import question_markdown

    profiles = book_profiles(profile)
    lines = []
    for name in profiles:
        try:
            question = question_markdown(name)
        except HScoreError:
            question = "*Its runs are not all done yet.*"
        lines += [f"## The answer of the `{name}` profile", "", config.describe(name), "",
                  findings_markdown(name, level=3) if question is None else question, ""]
    lines += ["## What is in this book", "",
              "- *Method*: the score, the subsets and the baselines ({doc}`method`); how every number here "
              "was produced and how to produce your own ({doc}`reproduce`); the method on your own data "
              "({doc}`own-data`); the package's layout, behaviour, tests and deliberate deviations from the paper "
              "({doc}`package`)."]
    for name in profiles:
        pairs = ", ".join(f"{m} / {t}" for m, t in config.pairs(name)
                          if paths.executed_notebook(name, "scoring", m, t).exists())
        chapters = "; ".join(page_title(n, name).rsplit(" (", 1)[0] for n in profile_notebooks(
            config.profile_configs(name)) if paths.executed_notebook(name, n).exists())
        lines.append(f"- Profile `{name}`: its results ({chapters}), then a chapter per pair ({pairs}): the "
                     "scoring page (H histogram, data map) and the pruning page (size against score).")
    path = paths.book_dir() / LANDING_PAGE
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode())
    return path


def install_records() -> list[Path]:
    """Copy the records the *Reproducing* page includes (``RECORD_PAGES``: the GPU check's page written by
    ``make gpu-check``, the sensitivity and transfer answers written by ``make findings``) into the book."""
    out = []
    for name, source in RECORD_PAGES.items():
        out.append(paths.book_dir() / name)
        if (paths.BENCHMARKS / source).exists():
            shutil.copyfile(paths.BENCHMARKS / source, out[-1])
        else:   # a record not made yet in this copy of the repository: said, not left out in silence
            atomic_write_bytes(out[-1], f"*Not recorded yet: `benchmarks/{source}` is written by `make findings` "
                                        "(or `make gpu-check`) from the profile's results.*\n".encode())
    return out


def build(profile: str) -> Path:
    """Build the HTML book of a profile from its executed notebooks; returns the index page."""
    write_toc(profile)
    write_landing(profile)
    install_mathjax()
    install_records()
    book = paths.book_dir()
    cmd = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(book), "--builder", "html",
           "-W", "-n", "--keep-going"]
    if subprocess.run(cmd).returncode != 0:
        raise HScoreError(f"the book did not build (command: {' '.join(cmd)}); the messages above say why")
    html = book / "_build" / "html"
    for page in html.rglob("*.html"):
        offline_page(page)
    return html / "index.html"


# What Jupyter Book 1 adds to every page that an offline report has no use for: sphinx-thebe's remote
# script address and loader (no page has a live-code button); and on pages with math, a second, blocking
# copy of MathJax beside the deferred one Sphinx loads after its configuration.
_THEBE = (re.compile(r'\s*<script>const THEBE_JS_URL = "[^"]*";[^<]*</script>'),
          re.compile(r'\s*<script async="async" src="(?:\.\./)*_static/sphinx-thebe\.js[^"]*"></script>'))
_MATHJAX_DEFERRED = re.compile(r'<script defer="defer" src="(?:\.\./)*_static/mathjax/tex-svg\.js')
_MATHJAX_BLOCKING = re.compile(r'\s*<script src="(?:\.\./)*_static/mathjax/tex-svg\.js[^"]*"></script>')


def offline_page(page: Path) -> None:
    """A built page without the thebe loader and its remote address, loading MathJax once."""
    text = original = page.read_text()
    for pattern in _THEBE:
        text = pattern.sub("", text)
    if _MATHJAX_DEFERRED.search(text):
        text = _MATHJAX_BLOCKING.sub("", text)
    if text != original:
        atomic_write_bytes(page, text.encode())
