"""The README is a front page that is never stale: short, every command it names exists, and every
figure it states is the one the latest record holds (the findings re-made by ``make findings``, the
fresh-clone time of ``make reproduce``, the recorder's cost)."""

from __future__ import annotations

import json
import re

import pytest

from hscore import config, paths
from hscore.__main__ import COMMANDS
from hscore.report import book

README = (paths.REPO / "README.md").read_text()
RECORDS = json.loads((paths.BENCHMARKS / "reproduce.json").read_text())


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(round(seconds % 60))} s"


def test_the_readme_is_a_front_page():
    assert len(README.encode()) <= 11500   # the default answer, five question profiles, how to use it
    sections = re.findall(r"^## (.+)$", README, re.M)
    assert sections[:2] == ["Set up and run", "What it finds (default profile)"]


def test_every_make_target_hscore_command_and_profile_it_names_exists():
    makefile = (paths.REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))
    named = set(re.findall(r"`make ([a-z][\w-]*)", README)) | set(re.findall(r"^make ([a-z][\w-]*)", README, re.M))
    assert named and named <= targets, named - targets
    commands = set(re.findall(r"`hscore ([a-z]+)", README))
    assert commands and commands <= set(COMMANDS), commands - set(COMMANDS)
    row = next(line for line in README.splitlines() if line.startswith("| `make reproduce PROFILE=...`"))
    assert set(re.findall(r"`([a-z][\w-]*)`", row.split("|")[2])) == set(config.profiles())
    assert set(re.findall(r"PROFILE=([a-z][\w-]*)", README)) <= set(config.profiles())


def test_the_book_pages_it_points_to_exist():
    """Every *Page* the README names is a page of the book: a Markdown page's H1 or a notebook page's title."""
    titles = [re.search(r"^# (.+)$", p.read_text(), re.M).group(1) for p in paths.book_dir().glob("*.md")
              if p.name[0] != "_" and p.name != "README.md"]
    titles += [*book.PROFILE_NOTEBOOKS.values(), *book.GUIDE_NOTEBOOKS.values(),
               *(title for title, _ in book.OPTIONAL_NOTEBOOKS.values())]
    named = {" ".join(page.split()) for page in re.findall(r"(?<!\*)\*([A-Z][^*]+)\*(?!\*)", README)}
    assert len(named) >= 5
    for page in named:
        assert any(t.startswith(page) for t in titles), page


def test_the_findings_are_those_make_findings_wrote():
    findings = (paths.BENCHMARKS / "findings" / "default.md").read_text()
    assert findings.strip() in README
    image = re.search(r"\]\((benchmarks/findings/default\.png)\)", findings).group(1)
    assert (paths.REPO / image).stat().st_size > 10_000


@pytest.mark.parametrize("profile", ["scaling", "sensitivity", "transfer", "classes", "noise"])
def test_the_question_profiles_answers_and_times_are_the_latest_records(profile):
    """The question profiles' answers are the first sentences ``make findings PROFILE=...`` wrote from
    their fresh-clone runs (three at most; the book has them all), and their times the fresh-clone records."""
    findings = (paths.BENCHMARKS / "findings" / f"{profile}.md").read_text()
    short = (paths.BENCHMARKS / "findings" / f"{profile}-readme.md").read_text()
    assert short.strip() in README and findings.count("\n- ") >= 4
    bullets = [line for line in short.splitlines() if line.startswith("- ")]
    assert 1 <= len(bullets) <= 3 and all(line in findings.splitlines() for line in bullets)
    latest = max((r for r in RECORDS if r["profile"] == profile), key=lambda r: r["date"])
    assert f"PROFILE={profile}` took **{_minutes(latest['wall_seconds'])}**" in README


def test_the_reproduce_time_is_the_latest_fresh_clone_record():
    default = [r for r in RECORDS if r["profile"] == "default"]
    latest = max(default, key=lambda r: r["date"])
    assert f"took **{_minutes(latest['wall_seconds'])}** on a fresh clone" in README


def test_the_recorders_cost_is_the_latest_measurement():
    lines = [json.loads(line) for line in (paths.BENCHMARKS / "results.jsonl").read_text().splitlines() if line]
    overhead = [r for r in lines if r.get("benchmark") == "trainer_overhead"][-1]
    assert f"recording costs {100 * overhead['record_call_share_of_step']:.2f}% of a step" in README
