"""The front page of each profile: its answer as the README, the book's landing page and ``hscore findings``
show it.

A profile that asks no question (``default``, ``paper``) answers with its verdict on the paper's claim and the
claims table (``display.findings_markdown``) and the summary figure; a question profile (``sensitivity``,
``transfer``, ``scaling``, ``classes``, ``noise``) with the sentences its chapters compute. This module sits
above the chapters (it imports them); the chapters and ``display`` import nothing from it.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from .. import paths
from ..analysis.findings import claims, limits, overall, profile_findings
from ..analysis.tables import profile_summary
from ..errors import HScoreError
from . import classes, noise, scaling, sensitivity, transfer
from .display import majority, markdown_table, profile_results
from .plots import DPI, plot_winning_tickets

README_LINES = 3   # a question profile's answer on the README: the first sentences of each of its chapters'


def question_answers(profile: str) -> list[tuple[str, list[str]]] | None:
    """A question profile's answer (``sensitivity``: how far the ticket moves; ``transfer``: whether a
    small model's ticket serves a larger one; ``scaling``: how the ticket changes with the size of the
    data; ``classes``: whether the ticket drops a class and what the class floor does; ``noise``: what H = 0
    holds when labels are flipped, against cleanlab): per pair, its title and the sentences its chapter
    computes from the results (most important first). None for a profile that asks no such question; an
    ``HScoreError`` while its runs are not done."""
    answers = sensitivity.answer(profile) + transfer.answer(profile) + scaling.answer(profile) + \
        classes.answer(profile) + noise.answer(profile)
    if not answers:
        if sensitivity.sensitivity_pairs(profile) or transfer.transfer_pairs(profile) or \
                scaling.scaling_configs(profile) or classes.floor_configs(profile) or noise.noise_pairs(profile):
            raise HScoreError(f"profile {profile}: its runs are not done yet (`hscore run --profile {profile}`)")
        return None
    return answers


def question_markdown(profile: str, first: int | None = None,
                      answers: list[tuple[str, list[str]]] | None = None) -> str | None:
    """``question_answers`` (computed here unless given) as Markdown: per pair its sentences, then what the
    profile cannot cover. ``first``: only the first sentences of each, nothing more (the README's lines).
    None for a profile that asks no such question."""
    answers = question_answers(profile) if answers is None else answers
    if answers is None:
        return None
    text = "".join(f"*`{profile}` profile, {title}:*\n\n" + "".join(f"- {line}\n" for line in lines[:first]) + "\n"
                   for title, lines in answers)
    scope = sensitivity.scope(profile) if first is None else ""
    return text + (f"{scope}\n" if scope else "")


def write_front_page_findings(profile: str, out: Path, answers: list[tuple[str, list[str]]] | None
                              ) -> tuple[Path, ...]:
    """The README's findings of a profile, re-made from its results: ``<out>/<profile>.md`` (the verdict
    and the claims table) and ``<out>/<profile>.png`` (the summary figure, captioned in the Markdown); for
    a question profile (``answers`` as ``question_answers`` gave them),
    ``<out>/<profile>.md`` holds its whole answer (the book's) and ``<out>/<profile>-readme.md`` its first
    ``README_LINES`` sentences (the README's; None: the profile asks no such question)."""
    if answers is not None:
        out.mkdir(parents=True, exist_ok=True)
        page, short = out / f"{profile}.md", out / f"{profile}-readme.md"
        page.write_text(question_markdown(profile, answers=answers))
        short.write_text(question_markdown(profile, README_LINES, answers))
        return page, short
    pairs = profile_results(profile)
    found = profile_findings(profile, pairs)
    if not found:
        raise HScoreError(f"profile {profile}: no pair has phase-2 results (`hscore run --profile {profile}`)")
    out.mkdir(parents=True, exist_ok=True)
    summary = profile_summary(profile, pairs)
    figure = out / f"{profile}.png"
    fig = plot_winning_tickets(summary, majority(pairs))
    fig.savefig(figure, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    scale = " ".join(line for line in limits(profile) if not line.startswith("Phase 2"))
    verdict = overall(found)
    # the README quotes the page, so inside the repository the figure is linked from its root; elsewhere
    # it is linked from the page itself, beside it
    link = figure.relative_to(paths.REPO).as_posix() if figure.is_relative_to(paths.REPO) else figure.name
    text = (f"**{verdict[0].upper() + verdict[1:]}.** {scale}\n\n" + markdown_table(claims(found))
            + "\n\n![The winning ticket against full data and the baselines of its size, per pair, mean and sd "
            f"over seeds; dotted, the majority class]({link})\n\n")
    page = out / f"{profile}.md"
    page.write_text(text)
    return page, figure
