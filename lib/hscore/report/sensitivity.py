"""The chapter *Sensitivity of the winning ticket*: how far the ticket moves when the scoring changes.

Reads the pairs of a profile that have ``variants`` (``hscore.study.results``), computes with
``hscore.analysis.sensitivity`` and shows: the sentences, the movement of the ticket under every
setting against the seeds' own noise (with a figure), fewer runs and epochs from the recorded runs,
each ticket's classes, phase 2 of the tickets that moved most with bootstrap intervals, and how EL2N
as its authors score it ranks against the train-step EL2N. Nothing here trains or writes a file.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from .. import config
from ..analysis import sensitivity
from ..data import get_task
from ..study.results import PairResults
from .display import comparison_display, readable
from .plots import show


def sensitivity_configs(profile: str) -> list:
    """The profile's pairs scored at other settings (not by a proxy model: that is the transfer chapter)."""
    return [cfg for cfg in config.profile_configs(profile) if cfg.variants and cfg.scoring_checkpoint is None]


def sensitivity_pairs(profile: str) -> list[PairResults]:
    return [PairResults(cfg) for cfg in sensitivity_configs(profile)]


def changed(cfg) -> dict[str, str]:
    """Per variant, what it changes, as a reader reads it."""
    phase1 = cfg.phase1
    base = {"lr": phase1.lr, "batch_size": phase1.batch_size, "epochs": phase1.epochs, "max_length": cfg.max_length,
            "padding_free": cfg.padding_free, "model": cfg.model}
    out = {}
    for v in cfg.variants:
        parts = [f"{key} {base[key]} -> {getattr(v, key)}" for key in base if getattr(v, key) is not None]
        out[v.name] = ", ".join(parts) or "seeds"
    return out


def plot_movement(table, title: str):
    """Jaccard overlap of each setting's ticket with the pair's, the seeds' noise as a line."""
    rows = table.sort_values("jaccard")
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(rows) + 1.2))
    seeds = rows["setting"] == sensitivity.SEEDS
    ax.barh(rows["setting"], rows["jaccard"], color=["#7f8c8d" if s else "#c0392b" for s in seeds])
    if seeds.any():
        ax.axvline(rows.loc[seeds, "jaccard"].iloc[0], color="#7f8c8d", linestyle=":", label="other seeds")
        ax.legend(fontsize=8, frameon=False, loc="lower right")
    for y, value in enumerate(rows["jaccard"]):
        ax.annotate(f"{value:.2f}", (value, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_xlim(0, 1.08)
    ax.set_xlabel("Jaccard overlap with the pair's ticket of the same run count")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def _measured(pair: PairResults) -> dict:
    """What the chapter and the README's answer read for one pair: the movement table, the phase-2
    comparisons of the moved tickets, and the sentences computed from them."""
    cfg = pair.cfg
    task = get_task(cfg.task, cfg.declared)
    base, variants = pair.dynamics(), pair.variant_dynamics()
    table = sensitivity.movement_table(base, variants, changed(cfg), pair.variant_runs(), task.metric)
    info = pair.subsets().info
    ticket = pair.subsets().winning_ticket.name
    moved = sensitivity.moved_comparisons(pair.predictions(), pair.phase2(), info, task.metric, ticket)
    size = pair.subsets().size(pair.subsets().winning_ticket)
    lines = sensitivity.sentences(table, moved, cfg.runs, size, pair.subsets().n_full)
    return {"task": task, "base": base, "variants": variants, "table": table, "info": info, "moved": moved,
            "size": size, "sentences": lines}


def scope(profile: str) -> str:
    """What the profile covers and what it cannot at its size, computed from its configuration."""
    cfgs = sensitivity_configs(profile)
    if not cfgs:
        return ""
    pairs = ", ".join(f"{c.model} / {c.task}" + (f" ({c.train_cap} examples)" if c.train_cap else "") for c in cfgs)
    settings = sorted({v.name for c in cfgs for v in c.variants})
    runs = sorted({v.runs or c.runs for c in cfgs for v in c.variants})
    moved = max(c.moved_tickets for c in cfgs)
    return (f"Measured on {len(cfgs)} pair{'s' if len(cfgs) > 1 else ''} ({pairs}), {len(settings)} changed settings "
            f"scored with {'/'.join(map(str, runs))} runs each, and the {moved} tickets that moved most trained in "
            f"phase 2. It cannot say how the ticket moves on other tasks or models, at the paper's sizes, with "
            f"{max(c.runs for c in cfgs)}-run tickets under each setting, or how the score of the tickets that "
            f"moved less changes.")


def answer(profile: str) -> list[tuple[str, list[str]]]:
    """Per finished pair (``model / task``), the chapter's sentences: the README's answer for the profile."""
    return [(f"{p.cfg.model} / {p.cfg.task}", _measured(p)["sentences"]) for p in sensitivity_pairs(profile)
            if p.runs["select"].done]


def show_sensitivity(profile: str) -> None:
    pairs = sensitivity_pairs(profile)
    if not pairs:
        display(Markdown("*No pair of this profile is scored at other settings (`variants:` in study.yaml).*"))
    else:
        display(Markdown(scope(profile)))
    for pair in pairs:
        cfg = pair.cfg
        display(Markdown(f"### {cfg.model} / {cfg.task}"))
        if not pair.runs["select"].done:
            display(Markdown("*The scoring runs are not all done yet.*"))
            continue
        m = _measured(pair)
        task, base, variants, table, info, moved, size = (m["task"], m["base"], m["variants"], m["table"], m["info"],
                                                          m["moved"], m["size"])
        display(Markdown("\n".join(f"- {line}" for line in m["sentences"])))
        display(Markdown("**How far the ticket moves.** Each setting's ticket against the pair's own ticket from "
                         "the same seeds and run count; *other seeds* is the pair's last runs against its first, "
                         "the noise every other row is read against:"))
        display(readable(table).set_index("setting"))
        seeds = table.loc[table["setting"] == sensitivity.SEEDS, "jaccard"]
        low = table[table["setting"] != sensitivity.SEEDS].sort_values("jaccard").iloc[0]
        show(plot_movement(table, f"{cfg.model} / {cfg.task}: the ticket under other settings"),
             f"How much of the pair's winning ticket each changed setting keeps (Jaccard overlap with the ticket "
             f"of the same seeds and run count). The ticket moves most under {low['setting']} "
             f"({low['jaccard']:.2f})" + (f"; other seeds alone give {seeds.iloc[0]:.2f}, the noise every bar is "
                                          "read against." if len(seeds) else "."),
             "Horizontal bar chart of Jaccard overlap per setting.")
        display(Markdown("**Runs and epochs**, from the pair's recorded runs alone (its first r runs, its first e "
                         "epochs), against the full scoring:"))
        display(readable(sensitivity.runs_table(base)).set_index(["runs", "epochs"]))
        display(Markdown("**Classes** of every ticket (% of the ticket):"))
        tickets = sensitivity.variant_tickets(base, variants)
        display(sensitivity.ticket_classes(base.label, tickets, task.label_names).round(1).set_index("ticket"))
        if "moved" in info:
            chosen = ", ".join(f"{t['variant']} (Jaccard {t['jaccard']:.2f})" for t in info["moved"]["tickets"])
            display(Markdown(f"**Phase 2 of the tickets that moved most**: {chosen}, each trained with the phase-2 "
                             f"settings and seeds beside the pair's own {info['moved']['runs']}-run ticket; 95% "
                             "intervals from a paired bootstrap over seeds and validation examples:"))
            display(comparison_display(moved))
        agreement = sensitivity.el2n_agreement(base, size)
        if agreement:
            runs = ", ".join(f"{v:.2f}" for v in agreement["spearman per run"])
            display(Markdown(
                f"**EL2N, two ways.** EL2N as its authors score it (one eval-mode pass over the training set at the "
                f"end of epoch {cfg.el2n_epoch}) against EL2N from epoch 1's train-step logits (each row scored by "
                f"another model state): Spearman per run {runs}; of the means over {agreement['runs']} runs "
                f"{agreement['spearman of the means']:.2f}; their top {agreement['size']} (the ticket's size) overlap "
                f"by Jaccard {agreement['jaccard of the top']:.2f}."))
