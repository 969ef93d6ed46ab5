"""The chapter *A small model's ticket for a larger one*: a proxy's winning ticket trained on a larger model.

Reads the pairs of a profile scored by a proxy model (``scoring_model``), computes with
``hscore.analysis.transfer`` and shows: the sentences, the comparisons with bootstrap intervals
(ticket against full data and random subsets of its size on the larger model; the larger model
against the proxy), the cost of the proxy's scoring against the larger model's own, and which
examples the larger model's own scoring would keep. Nothing here trains or writes a file.
"""

from __future__ import annotations

from IPython.display import Markdown, display

from .. import config
from ..analysis import transfer
from ..analysis.tables import tradeoff_table
from ..data import get_task
from ..study.results import PairResults
from .display import comparison_display, readable


def transfer_pairs(profile: str) -> list[PairResults]:
    return [PairResults(cfg) for cfg in config.profile_configs(profile) if cfg.scoring_checkpoint is not None]


def _measured(pair: PairResults) -> dict:
    """What the chapter and the README's answer read for one pair: the comparisons, the cost, the
    agreement of the larger model's own ticket, and the sentences computed from them."""
    cfg = pair.cfg
    results = pair.phase2()
    task = get_task(cfg.task, cfg.declared)
    ticket = pair.subsets().winning_ticket.name
    table = transfer.comparisons(pair.predictions(), ticket, task.metric, cfg.scoring_model, cfg.model)
    own_runs = pair.variant_runs()
    own_runs = own_runs[own_runs["changed"].str.contains(f"model {cfg.model}", regex=False)]
    cost = transfer.cost_table(pair.phase1_runs(), results, own_runs, ticket)
    own = next((v.name for v in cfg.variants if v.model == cfg.model), None)
    agreement = transfer.own_ticket(pair.dynamics(), pair.variant_dynamics()[own]) if own else None
    return {"task": task, "results": results, "table": table, "cost": cost,
            "sentences": transfer.sentences(table, cost, agreement, cfg.scoring_model, cfg.model)}


def answer(profile: str) -> list[tuple[str, list[str]]]:
    """Per pair with phase-2 results, the chapter's sentences: the README's answer for the profile."""
    return [(f"{p.cfg.model} on {p.cfg.scoring_model}'s ticket: {p.cfg.task}", _measured(p)["sentences"])
            for p in transfer_pairs(profile) if not p.phase2().empty]


def show_transfer(profile: str) -> None:
    pairs = transfer_pairs(profile)
    if not pairs:
        display(Markdown("*No pair of this profile is scored by another model (`scoring_model:` in study.yaml).*"))
    for pair in pairs:
        cfg = pair.cfg
        display(Markdown(f"### {cfg.model} on {cfg.scoring_model}'s ticket: {cfg.task}"))
        if pair.phase2().empty:
            display(Markdown("*No phase-2 results yet.*"))
            continue
        m = _measured(pair)
        task, results, table, cost = m["task"], m["results"], m["table"], m["cost"]
        display(Markdown("\n".join(f"- {line}" for line in m["sentences"])))
        display(Markdown(f"Mean and spread over the phase-2 seeds ({cfg.model}), in {task.metric}:"))
        display(readable(tradeoff_table(results[results["metric"] == task.metric]))
                .set_index(["split", "method", "subset"]))
        display(Markdown("Every comparison, 95% intervals from a paired bootstrap over seeds and validation examples "
                         "(unpaired seeds where the two were trained with other seeds):"))
        display(comparison_display(table))
        if not cost.empty:
            display(Markdown("**Cost** (wall times and FLOPs recorded on this machine, evaluation included):"))
            display(cost.round(1).T.rename(columns={0: cfg.pair}))
