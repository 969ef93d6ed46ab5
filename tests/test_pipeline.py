"""End to end: papermill runs every notebook on the smoke profile, and the book builds offline from them."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from conftest import FIXTURE_DATA
from hscore import config, paths
from hscore.errors import CorruptResultError, DataUnavailableError
from hscore.report import book
from hscore.study import executors, plan

NOTEBOOKS = (*book.PAIR_NOTEBOOKS, *book.PROFILE_NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_in_git_are_clean_and_parameterised(name):
    nb = json.loads((paths.NOTEBOOKS / f"{name}.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "committed with outputs"
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    names = set(re.findall(r"^(\w+)\s*=", "".join(tagged[0]["source"]), flags=re.M))
    assert names == ({"profile"} if name in book.PROFILE_NOTEBOOKS else {"profile", "model", "task"})
    # The defaults name the smoke profile: opened in JupyterLab as they are, the notebooks read the results
    # `make run PROFILE=smoke` computes in minutes, not the whole 30-minute default profile.
    assert 'profile = "smoke"' in "".join(tagged[0]["source"])


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebooks_only_read(name):
    """No notebook trains or writes: no call into the plan's executors, steps or file writers."""
    nb = json.loads((paths.NOTEBOOKS / f"{name}.ipynb").read_text())
    code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    for forbidden in ("executors", "steps", "run_step", "selection.write", "atomic_", "to_parquet", "to_csv",
                      "savefig", "open("):
        assert forbidden not in code, f"{name}.ipynb uses {forbidden}"


def test_default_parameters_name_a_real_pair():
    nb = json.loads((paths.NOTEBOOKS / "scoring.ipynb").read_text())
    source = "".join(next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))["source"])
    params = {}
    exec(source, {}, params)
    assert (params["model"], params["task"]) in config.pairs(params["profile"])


@pytest.fixture(scope="module")
def smoke_book(tmp_path_factory):
    """Execute every notebook of the smoke profile and build the book, in temporary folders."""
    root = tmp_path_factory.mktemp("smoke")
    book_dir = root / "book"
    book_dir.mkdir()
    for f in paths.book_dir().iterdir():
        if f.is_file() and f.name != "_toc.yml":
            shutil.copy(f, book_dir / f.name)
    shutil.copytree(paths.book_dir() / "_static", book_dir / "_static", ignore=shutil.ignore_patterns("mathjax"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HSCORE_RESULTS_DIR", str(root / "results"))
        mp.setenv("HSCORE_BOOK_DIR", str(book_dir))
        mp.setenv("HSCORE_DATA_DIR", str(FIXTURE_DATA))
        built = plan.build("smoke")
        outcome = executors.run(built)        # as `hscore reproduce`: the plan first, in this process ...
        before = _checksums(root / "results")
        executed = book.execute(built)        # ... then the notebooks, which only read
        after = _checksums(root / "results")
        index = book.build("smoke")
        yield {"root": root, "book": book_dir, "executed": executed, "index": index, "outcome": outcome,
               "before": before, "after": after}


def _checksums(folder):
    import hashlib

    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_papermill_runs_every_notebook_of_the_smoke_profile(smoke_book):
    expected = {f"{m}--{t}--{n}.ipynb" for m, t in config.pairs("smoke") for n in ("scoring", "pruning")}
    assert {p.name for p in smoke_book["executed"]} == (expected | {f"{n}.ipynb" for n in book.PROFILE_NOTEBOOKS}
                                                         | {f"{n}.ipynb" for n in book.GUIDE_NOTEBOOKS})
    for path in smoke_book["executed"]:
        nb = json.loads(path.read_text())
        errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
                  if o["output_type"] == "error"]
        assert not errors, path
        # papermill injected the pair's or the profile's parameters; a guide page runs on its own defaults
        injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
        assert len(injected) == (0 if path.stem in book.GUIDE_NOTEBOOKS else 1), path.name
        figures = [html for c in nb["cells"] for o in c.get("outputs", [])
                   for html in ["".join(o.get("data", {}).get("text/html", ""))] if "<figure" in html]
        assert figures or path.stem == "fairness", f"{path.name} shows no figure"
        assert not [o for c in nb["cells"] for o in c.get("outputs", []) if "image/png" in o.get("data", {})], \
            f"{path.name} shows a figure without a caption"
        for figure in figures:   # a caption that says what to see, and alt text that is not a file name
            caption = re.search(r"<figcaption>(.+?)</figcaption>", figure, re.S)
            alt = re.search(r'alt="([^"]+)"', figure)
            assert caption and len(caption.group(1)) > 60 and alt and not alt.group(1).endswith(".png"), path.name


@pytest.mark.slow
def test_executing_every_notebook_writes_nothing_under_the_results(smoke_book):
    """Checksums of every file under the results folder before and after papermill ran all notebooks."""
    assert smoke_book["before"] == smoke_book["after"] and len(smoke_book["after"]) > 100


@pytest.mark.slow
def test_notebooks_only_render_what_the_plan_computed(smoke_book, monkeypatch):
    """Every step was run by the plan's executor (this process), none inside a notebook's kernel."""
    import os

    monkeypatch.setenv("HSCORE_RESULTS_DIR", str(smoke_book["root"] / "results"))
    records = list((smoke_book["root"] / "results" / "smoke").rglob("step.json"))
    assert len(records) == len(plan.build("smoke").steps)
    assert {json.loads(r.read_text())["worker"]["pid"] for r in records} == {os.getpid()}


@pytest.mark.slow
def test_hscore_run_alone_leaves_complete_results(smoke_book):
    results = smoke_book["root"] / "results" / "smoke"
    assert smoke_book["before"] == smoke_book["after"]   # complete before any notebook ran
    for model, task in config.pairs("smoke"):
        cfg = config.pair_config("smoke", model, task)
        table = pd.read_parquet(results / model / task / "tables" / "phase2.parquet")
        assert len(pd.read_parquet(results / model / task / "tables" / "phase1.parquet")) >= cfg.runs
        # full data + every non-empty subset x (H-score and every baseline of the pair)
        subsets = json.loads((results / model / task / "select" / "subsets.json").read_text())["subsets"]
        nonempty = sum(s["size"] > 0 for s in subsets)
        cheaper = cfg.cheaper_ticket is not None
        assert table[["method", "subset", "seed"]].drop_duplicates().shape[0] == (
            (1 + (1 + len(cfg.baselines)) * nonempty + cheaper) * len(cfg.phase2.seeds))
        assert set(table["method"]) == {"full", "hscore", *cfg.baselines} | ({"cheaper"} if cheaper else set())
        assert len(list((results / model / task / "phase1").glob("run-*/dynamics.npz"))) == cfg.runs


@pytest.mark.slow
def test_book_renders_the_summary_table_and_figures_offline(smoke_book):
    html_dir = smoke_book["index"].parent
    summary = (html_dir / "executed" / "smoke" / "summary.html").read_text()
    assert "<table" in summary and "winning ticket" in summary and "rotten_tomatoes" in summary
    assert "90.04" in summary  # the paper's reported MNLI-m number, shown beside ours
    statistics = (html_dir / "executed" / "smoke" / "statistics.html").read_text()
    assert "95% CI" in statistics and "winning ticket" in statistics and "Traceback" not in statistics
    for name in book.PROFILE_NOTEBOOKS:
        assert "Traceback" not in (html_dir / "executed" / "smoke" / f"{name}.html").read_text(), name
    for model, task in config.pairs("smoke"):
        for name in ("scoring", "pruning"):
            page = (html_dir / "executed" / "smoke" / f"{model}--{task}--{name}.html").read_text()
            figures = re.findall(r"<figure[^>]*>(.*?)</figure>", page, re.S)
            assert figures, f"{name} page of {model}/{task} has no figure"
            for figure in figures:
                assert 'src="data:image/png;base64,' in figure and "<figcaption>" in figure
            assert "Traceback" not in page
    # Nothing has to come from the network to read the book: scripts, styles and MathJax are local.
    for page in html_dir.rglob("*.html"):
        text = page.read_text()
        remote = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?://[^"]+)"', text)
        assert not remote, f"{page.name} loads {remote}"
        # no remote address at all (sphinx-thebe's is removed), and MathJax loaded once at most
        assert "unpkg.com" not in text and len(re.findall(r"<script[^>]+mathjax/tex-svg\.js", text)) <= 1, page
    method = (html_dir / "method.html").read_text()
    assert "_static/mathjax/tex-svg.js" in method and (html_dir / "_static" / "mathjax" / "tex-svg.js").exists()


@pytest.mark.slow
@pytest.mark.slow
def test_findings_writes_the_verdict_claims_and_figure_of_a_profile(smoke_book, tmp_path, capsys, monkeypatch):
    """``hscore findings --out`` (``make findings``) for a profile that asks no question of its own: the
    verdict in the terminal, and the README's Markdown (verdict, claims table) with its figure, linked
    from the page where the page lies outside the repository."""
    from hscore.__main__ import main
    from hscore.analysis.findings import claims, overall, profile_findings

    monkeypatch.setenv("HSCORE_RESULTS_DIR", str(smoke_book["root"] / "results"))
    assert main(["findings", "--profile", "smoke", "--out", str(tmp_path)]) == 0
    found = profile_findings("smoke")
    verdict = overall(found)
    assert capsys.readouterr().out.startswith(f"smoke: {verdict}")
    page = (tmp_path / "smoke.md").read_text()
    assert page.startswith(f"**{verdict[0].upper() + verdict[1:]}.**")
    assert all(f"| {claim} |" in page for claim in claims(found)["claim"])
    assert (tmp_path / "smoke.png").stat().st_size > 10_000 and page.rstrip().endswith("(smoke.png)")


def test_the_book_opens_with_the_answer_and_every_page_has_its_own_title(smoke_book):
    html_dir = smoke_book["index"].parent
    landing = (html_dir / "intro.html").read_text()
    # the findings, the limits and the claims table come first, computed from the results
    assert landing.index("Findings of the smoke profile") < landing.index('id="what-is-in-this-book"')
    assert "Limits at this scale" in landing and "Claims: the paper against this reproduction" in landing
    assert "minilm / rotten_tomatoes" in landing and "x smaller" in landing
    # no profile chapter is described that the book does not hold
    assert "offline-kinds" not in landing
    titles, toc = [], yaml.safe_load((smoke_book["book"] / "_toc.yml").read_text())
    for part in toc["parts"][1:]:
        for chapter in part["chapters"]:
            for entry in [chapter, *chapter.get("sections", [])]:
                page = (html_dir / f"{entry['file']}.html").read_text()
                h1 = re.search(r'<h1>([^<]*)<a class="headerlink"', page).group(1).strip()   # the page's own H1
                assert h1 == html.escape(entry["title"]), (h1, entry["title"])
                assert "computes its results in minutes" not in page   # the notebook's own parameters cell
                titles.append(entry["title"])
    assert len(titles) == len(set(titles))
    captions = [part["caption"] for part in toc["parts"]]
    assert captions.index("Results (profile smoke)") < captions.index("Model-task pairs (profile smoke)")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Measures, in the loaded page, every table of the article against the article's own width.
MEASURE = """<script>(function () {
  const article = document.querySelector("article") || document.querySelector("main");
  const limit = article.getBoundingClientRect().width;
  const wide = [...article.querySelectorAll("table")].filter(t => t.getBoundingClientRect().width > limit + 1)
    .map(t => [Math.round(t.getBoundingClientRect().width), (t.innerText || "").slice(0, 60)]);
  document.documentElement.setAttribute("data-measured", JSON.stringify({limit: Math.round(limit), wide: wide}));
})();</script>"""


def _measure(page, width: int, tmp_path) -> dict:
    """Open ``page`` in headless Chromium at ``width`` px and return what MEASURE found."""
    copy = page.with_name(f"_measured_{page.name}")
    copy.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    try:
        done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                               "--disable-background-networking", "--disable-component-update", "--disable-sync",
                               f"--user-data-dir={tmp_path / 'chromium'}", f"--window-size={width},900",
                               "--virtual-time-budget=3000", "--dump-dom", copy.as_uri()],
                              capture_output=True, text=True, timeout=120)
    finally:
        copy.unlink()
    found = re.search(r'data-measured="([^"]*)"', done.stdout)
    assert found, f"{page.name}: Chromium measured nothing ({done.stderr.strip()[-300:]})"
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                    reason="needs Chromium (Debian's package chromium; .ci/run installs it)")
def test_no_table_is_wider_than_the_article_in_a_real_browser(smoke_book, tmp_path):
    """Every page of the built book in headless Chromium at a laptop's 1024 px: no table overflows the
    article column (the reader would have to scroll sideways to see the ticket's columns)."""
    assert CHROMIUM, "Chromium is not installed: .ci/run installs Debian's chromium"
    html_dir = smoke_book["index"].parent
    pages = sorted(p for p in html_dir.rglob("*.html") if "_static" not in p.parts and p.name not in
                   ("search.html", "genindex.html", "index.html"))   # index.html only redirects to intro.html
    measured = {p.relative_to(html_dir).as_posix(): _measure(p, 1024, tmp_path) for p in pages}
    assert all(m["limit"] > 300 for m in measured.values()), measured
    assert sum(bool(m["wide"]) for m in measured.values()) == 0, {k: m for k, m in measured.items() if m["wide"]}


@pytest.mark.slow
def test_rerun_resumes_without_training(smoke_book, monkeypatch):
    """A second run of the study finds every step finished and trains nothing."""
    monkeypatch.setenv("HSCORE_RESULTS_DIR", str(smoke_book["root"] / "results"))
    assert len(smoke_book["outcome"].trained) == sum(not s.derived for s in plan.build("smoke").steps)
    again = executors.run(plan.build("smoke"))
    assert again.trained == [] and again.finished == [] and not again.failed


@pytest.mark.slow
def test_a_corrupt_result_stops_before_any_notebook(smoke_book, monkeypatch, tmp_path):
    """Bytes flipped in one run's predictions: one line naming its folder, before papermill starts."""
    monkeypatch.setenv("HSCORE_RESULTS_DIR", str(smoke_book["root"] / "results"))
    monkeypatch.setenv("HSCORE_BOOK_DIR", str(tmp_path))
    built = plan.build("smoke")
    step = next(s for s in built.steps if s.stage == "finetune" and (s.folder / "predictions.npz").exists())
    target = step.folder / "predictions.npz"
    original = target.read_bytes()
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0x01
    target.write_bytes(bytes(flipped))
    try:
        with pytest.raises(CorruptResultError, match=str(step.folder)):
            book.execute(built)
        assert not list(tmp_path.rglob("*.ipynb"))
    finally:
        target.write_bytes(original)


def test_cli_reports_bad_input_clearly():
    run = subprocess.run([sys.executable, "-m", "hscore", "pairs", "--profile", "nope"],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert "unknown profile 'nope'" in run.stderr and "default" in run.stderr
    run = subprocess.run([sys.executable, "-m", "hscore", "run", "--profile", "smoke", "--pair", "minilm/mnist"],
                         capture_output=True, text=True)
    assert run.returncode == 2 and "unknown task 'mnist'" in run.stderr


def test_paper_profile_without_gpu_stops_before_anything_runs(monkeypatch, tmp_path, capsys):
    from hscore.__main__ import main

    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setenv("HSCORE_BOOK_DIR", str(tmp_path))
    assert main(["reproduce", "--profile", "paper"]) == 2
    assert "ALLOW_CPU=1" in capsys.readouterr().err
    assert not list(tmp_path.rglob("*.ipynb"))


def test_unreachable_data_stops_before_any_notebook(monkeypatch, tmp_path):
    """With the GPU check passed (ALLOW_CPU), a hub task without network fails in the terminal, not in a kernel."""
    import datasets

    monkeypatch.setenv("HSCORE_ALLOW_CPU", "1")
    monkeypatch.setenv("HSCORE_BOOK_DIR", str(tmp_path))
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("offline")))
    with pytest.raises(DataUnavailableError, match="nyu-mll/glue/mnli"):
        book.execute(plan.build("paper"))
    assert not list(tmp_path.rglob("*.ipynb"))
