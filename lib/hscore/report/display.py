"""What the notebooks show: configuration, run and result tables as rendered Markdown/HTML.

Every number comes from the readers (``hscore.study.results``) and the analysis
(``hscore.analysis``); nothing here trains or writes a file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from .. import config, paths
from ..analysis.fairness import fairness_table, floor_effect, ticket_balance
from ..analysis.findings import claims, finding_lines, limits, majority_scores, overall, profile_findings
from ..analysis.pruned import agreement_by_h, examples_by_h, h_levels
from ..analysis.tables import (
    METHOD_LABELS,
    comparison_table,
    conclusions,
    cost_table,
    display_columns,
    paper_results,
)
from ..config import PairConfig
from ..data import get_task, pair_splits
from ..engine.device import versions
from ..engine.kinds import get_kind
from ..pruning.cheaper import cheaper_table
from ..pruning.classes import UNDER_SHARE, class_balance
from ..pruning.scores import h_histogram
from ..pruning.subsets import subset_family
from ..study.results import PairResults
from ..study.selection import Selection, Subsets
from .plots import show_cheaper as plot_cheaper_captioned
from .plots import show_forest, show_membership


def show_config(cfg: PairConfig) -> None:
    task = get_task(cfg.task, cfg.declared)
    p1, p2 = cfg.phase1, cfg.phase2
    cap = lambda c: "all" if c is None else f"{c:,} (seeded sample)"
    batch = lambda p: f"{p.batch_size}" if p.grad_accum == 1 else f"{p.batch_size} x {p.grad_accum} accumulated"
    schedule = lambda p: (f"linear schedule hard-coded to {p.fixed_schedule[0]} warmup and {p.fixed_schedule[1]} total "
                          "updates (the official RACE script)" if p.fixed_schedule else
                          f"linear warmup over {100 * p.warmup_ratio:g}% of the run's updates, then linear decay to 0")
    display(Markdown(
        f"**Model** `{cfg.model}` ({cfg.checkpoint}) · **task** `{cfg.task}` ({task.kind.replace('_', ' ')}): "
        f"{task.source}, {task.num_labels} labels ({', '.join(task.label_names)}), metric {task.metric} on "
        f"{', '.join(task.eval_splits)}. H-scores per "
        f"{'training row' if cfg.score_unit == 'feature' else 'training example'}.\n\n"
        f"| | runs (seeds) | epochs | lr | batch | max length | train examples | eval examples |\n"
        f"|---|---|---|---|---|---|---|---|\n"
        f"| phase 1 | {cfg.runs} ({', '.join(map(str, p1.seeds))}) | {p1.epochs} | {p1.lr:g} | {batch(p1)} | "
        f"{cfg.max_length} | {cap(cfg.train_cap)} | {cap(cfg.eval_cap)} |\n"
        f"| phase 2 | {len(p2.seeds)} ({', '.join(map(str, p2.seeds))}) | {p2.epochs} | {p2.lr:g} | "
        f"{batch(p2)} | {cfg.max_length} | subsets | {cap(cfg.eval_cap)} |\n\n"
        f"AdamW (weight decay {p1.weight_decay:g}, eps {p1.adam_eps:g}, betas {tuple(p1.adam_betas)}), "
        f"{schedule(p1)}, gradient norm clipped at {p1.max_grad_norm:g}.\n\n"
        f"Profile `{cfg.profile}`; results in `{_shown(cfg.results_dir)}`. "
        f"Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items() if k != "hscore") + "."))


def _shown(folder) -> str:
    """A results folder as a reader sees it: relative to the repository when it lies inside it."""
    try:
        return folder.relative_to(paths.REPO).as_posix() + "/"
    except ValueError:
        return str(folder) + "/"


def show_phase1(pair: PairResults) -> None:
    runs = pair.phase1_runs()
    stage = pair.phase1_info()
    trivial = "; ".join(f"{split} " + ", ".join(f"{m} {v:.1f}" for m, v in scores.items())
                        for split, scores in stage["trivial"].items())
    wide = runs.pivot_table(index=["run", "seed", "device", "wall_seconds"], columns=["split", "metric"],
                            values="score")
    display(Markdown(
        f"{stage['train_examples']:,} training examples in {stage['train_rows']:,} rows; model head "
        f"`{stage['head']}`. Evaluation score of each scoring run at the end of its last epoch "
        f"(a model that ignores its input: {trivial}):"))
    display(wide.reset_index().rename(columns={"wall_seconds": "wall time (s)"}).round(2))


def show_h_profile(scores: pd.DataFrame, runs: int) -> None:
    """Per H value: how many examples, and their mean confidence, variability and correctness."""
    counts = h_histogram(scores["h"].to_numpy(), runs)
    means = scores.groupby("h")[["confidence", "variability", "correctness"]].mean()
    table = pd.concat([counts, (100 * counts / counts.sum()).rename("% of train"), means], axis=1)
    display(table.round(3))


def show_subsets(subsets: Subsets, scores: pd.DataFrame | None = None, cfg: PairConfig | None = None) -> None:
    """The H-score subsets with their sizes (and which of them phase 2 trains), then their label balance."""
    display(Markdown(f"{subsets.n_full:,} training examples. The H-score subsets, largest first "
                     "(the first is the winning ticket):"))
    shown = subsets.table().round(1)
    shown["winning ticket"] = shown["winning ticket"].map({True: "yes", False: ""})
    if cfg is not None:
        trained = set(cfg.phase2_subsets) if cfg.phase2_subsets else set(shown["subset"])
        shown["phase 2"] = ["trained" if name in trained else "" for name in shown["subset"]]
    display(shown.set_index("subset"))
    if cfg is not None and cfg.phase2_subsets:
        seeds = len(cfg.phase2.seeds)
        display(Markdown(
            f"Phase 2 trains {len(cfg.phase2_subsets)} of these {len(shown)} subsets, as the profile's "
            f"`phase2_subsets` says: each trained subset costs one run per method and seed, and this profile "
            f"spends its time on {seeds} seed{'s' if seeds > 1 else ''} (for intervals) rather than on every "
            "subset. The others are listed for their sizes only; `phase2_subsets: null` in `study.yaml` trains "
            "them all."))
    if scores is None:
        return
    labels, names = scores["label"].to_numpy(), None if cfg is None else get_task(cfg.task, cfg.declared).label_names
    display(Markdown("Label balance of the full set and of every H-score subset (the baselines are chosen "
                     "without looking at labels); `least kept`: the smallest share of a class in the subset "
                     "over its share of the full set (1: every class kept in proportion; 0: one vanished):"))
    display(balance_table(class_balance(labels, subsets.balance_positions(), names)))
    warnings = Selection(scores, subsets).class_warnings(names)
    if warnings:
        display(Markdown(f"**A class falls below {UNDER_SHARE:.0%} of its share:** " + "; ".join(warnings) + "."))


def balance_table(balance: pd.DataFrame) -> pd.DataFrame:
    """``class_balance`` as a page shows it, one column per class (``count (share%)``), narrow enough for
    five classes in the article's width."""
    classes = [c for c in balance.columns if f"{c} %" in balance.columns]
    shown = pd.DataFrame({"size": balance["size"].to_numpy()}, index=pd.Index(balance["subset"], name="subset"))
    for c in classes:
        shown[c] = [f"{n} ({p:.0f}%)" for n, p in zip(balance[c], balance[f"{c} %"])]
    shown["least kept"] = balance["least kept (relative)"].round(2).to_numpy()
    return shown


def show_tradeoff(table: pd.DataFrame) -> None:
    """Per evaluation split and metric, every trained subset (rows, largest first, with its size) by method
    (columns): mean ± sd over seeds, one decimal, blank where a method was not trained at that size."""
    for (split, metric), part in table.groupby(["split", "metric"], sort=False):
        cells = part.assign(cell=[f"{m:.1f} ± {s:.1f}" if n > 1 else f"{m:.1f}"
                                  for m, s, n in zip(part["mean"], part["std"].fillna(0), part["seeds"])],
                            subset=[f"{'all' if m == 'full' or pd.isna(k) else k} ({n:,})"
                                    for m, k, n in zip(part["method"], part["kept"], part["size"])])
        order = cells.drop_duplicates("subset").sort_values("size", ascending=False)["subset"]
        wide = cells.pivot_table(index="subset", columns="method", values="cell", aggfunc="first")
        methods = [m for m in ("full", "hscore", *METHOD_LABELS) if m in wide.columns]   # full, ours, baselines
        wide = wide.reindex(index=order, columns=list(dict.fromkeys(methods))).fillna("")
        wide.columns = [METHOD_LABELS.get(c, c) for c in wide.columns]
        wide.index.name = "training set (size)"
        display(Markdown(f"**{split}, {metric.replace('_', ' ')}**, mean ± sd over seeds:"))
        display(wide)


def show_summary(table: pd.DataFrame) -> None:
    if table.empty:
        display(Markdown("*No phase-2 results yet.*"))
        return
    # a column per pair and split, a row per training set: narrow enough for a page whatever the baselines
    shown = display_columns(table).set_index(["pair", "split"]).T
    shown.index.name = "training set"
    display(shown)


def markdown_table(table: pd.DataFrame) -> str:
    """A plain Markdown table: every cell as text, no index."""
    head = "| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns)
    return "\n".join([head, *("| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False))])


def findings_markdown(profile: str, pairs: list[PairResults] | None = None, level: int = 2) -> str:
    """The answer first, as MyST Markdown: a findings box (the verdict on the paper's claim, one line per
    pair with intervals, what is striking), a box of the limits at this scale, and the claims table;
    every word computed from the results (``hscore.analysis.findings``)."""
    found = profile_findings(profile, pairs)
    if not found:
        return f"*Profile {profile}: no pair has phase-2 results yet (`hscore run --profile {profile}`).*\n"
    notes = [note for f in found for note in f.notes]
    verdict = overall(found)
    lines = [f":::{{admonition}} Findings of the {profile} profile: {verdict.split(':')[0]}",
             ":class: tip", "", verdict[0].upper() + verdict[1:] + ".", "",
             *(f"- {line}" for line in finding_lines(found)), *(["", *(f"- {n}" for n in notes)] if notes else []),
             ":::", "", f":::{{admonition}} Limits at this scale ({profile})", ":class: warning", "",
             *(f"- {line}" for line in limits(profile)), ":::", "",
             f"{'#' * level} Claims: the paper against this reproduction ({profile})", "",
             markdown_table(claims(found)), ""]
    return "\n".join(lines)


def majority(pairs: list[PairResults]) -> dict:
    """(model, task, split) -> the majority-class score (``hscore.analysis.findings.majority_scores``)."""
    return majority_scores(pairs)


def show_findings(profile: str, pairs: list[PairResults] | None = None) -> None:
    display(Markdown(findings_markdown(profile, pairs)))


def show_profile(profile: str) -> None:
    pairs = ", ".join(f"{m} / {t}" for m, t in config.pairs(profile))
    display(Markdown(f"Profile **{profile}**: {config.describe(profile)}\n\nPairs: {pairs}."))


def show_paper() -> None:
    display(paper_results().rename(columns={"full_score": "full data", "ticket_pct": "ticket % of train",
                                            "ticket_score": "winning ticket"}).set_index(["model", "task", "split"]))


def show_ignored(*pairs: PairResults) -> None:
    """Finished runs on disk that the tables leave out (not in the plan, stale or corrupt)."""
    lines = [f"- `{pair.cfg.pair}/{line.split(':', 1)[0]}`:{line.split(':', 1)[1]}"
             for pair in pairs for line in pair.ignored()]
    if lines:
        display(Markdown(f"**{len(lines)} finished run(s) on disk are not part of this study's plan and are left "
                         "out of every table:**\n\n" + "\n".join(lines)))


def cost_display(table: pd.DataFrame) -> pd.DataFrame:
    """The cost table transposed (a row per quantity, a column per pair), in units that fit its scale."""
    def seconds(v):
        return "" if pd.isna(v) else f"{v:,.0f} s"

    def tflop(v):
        return "" if pd.isna(v) else f"{v * 1000:,.1f} TFLOP"

    rows = {
        "scoring runs": table["scoring runs"].map(str),
        "scoring": table["scoring (s)"].map(seconds),
        "a run on the full set": table["full-set run (s)"].map(seconds),
        "a run on the winning ticket": [f"{seconds(s)} ({p:.0f}% of the data)" for s, p in
                                        zip(table["ticket run (s)"], table["ticket % of full"])],
        "saved per later run": table["saved per later run (s)"].map(seconds),
        "later runs to pay the scoring back": table["later runs to pay back"].map(
            lambda v: "never (the ticket run is not faster)" if not np.isfinite(v) else f"{v:.1f}"),
        "scoring, compute": table["scoring (PFLOP)"].map(tflop),
        "a full-set run, compute": table["full-set run (PFLOP)"].map(tflop),
        "a ticket run, compute": table["ticket run (PFLOP)"].map(tflop),
    }
    out = pd.DataFrame(rows).T
    out.columns = table["model"] + " / " + table["task"]
    return out


def show_cost(*pairs: PairResults) -> None:
    """Scoring cost against the time a run on the winning ticket saves, per pair (recorded wall times)."""
    parts = [cost_table(pair.cfg, pair.phase2(), pair.phase1_runs()) for pair in pairs]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return
    table = pd.concat(parts, ignore_index=True)
    display(Markdown("**Cost and payback** (wall times recorded on this machine, evaluation included): the "
                     "scoring runs against the time one later fine-tuning run saves by training on the "
                     "winning ticket instead of the full set; FLOPs estimated from the tokens and the model's "
                     "parameters carry to other hardware. One column per pair:"))
    display(cost_display(table))


# --- the profile-level chapters: statistics, cost, fairness, what is pruned ---------------------

def profile_results(profile: str) -> list[PairResults]:
    """Every pair of the profile, its runs judged once (a notebook reads them all through these)."""
    return [PairResults(cfg) for cfg in config.profile_configs(profile)]


def _pairs_with_results(pairs: list[PairResults]) -> list[PairResults]:
    with_results = [pair for pair in pairs if not pair.phase2().empty]
    if not with_results:
        display(Markdown("*No phase-2 results yet.*"))
    return with_results


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def p_value(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """Two decimals, a blank where a number does not apply (a full set has no H range, the seeds' row of
    the sensitivity table no runs of its own)."""
    return table.round(2).astype(object).where(table.notna(), "")


def comparison_display(table: pd.DataFrame) -> pd.DataFrame:
    """The comparisons as a reader scans them: A (with its size, where the table has it) against B, both
    scores, the difference with its interval, p, the verdict, what was resampled; one decimal. Narrow
    enough for the book's page (the statistics, sensitivity and transfer chapters show it)."""
    if "% of full" in table:
        a = ("A (size)", [f"{a} ({p:.0f}%)" for a, p in zip(table["A"], table["% of full"])])
    elif "A size" in table:
        a = ("A (examples)", [f"{a} ({n:.0f})" for a, n in zip(table["A"], table["A size"])])
    else:
        a = ("A", table["A"])
    return pd.DataFrame({
        "split": table["split"], a[0]: a[1],
        "B": table["B"], "A score": table["A score"].map("{:.1f}".format),
        "B score": table["B score"].map("{:.1f}".format),
        "A - B (95% CI)": [f"{d:+.1f} ({lo:+.1f} to {hi:+.1f})" for d, lo, hi in
                           zip(table["A - B"], table["95% CI low"], table["95% CI high"])],
        "p": table["p"].map(p_value), "verdict": table["verdict"],
        "resampled": [f"{_count(s, 'seed')} x {e} examples" for s, e in
                      zip(table["seeds"], table["examples"])]}).set_index(["split", a[0], "B"])


def _heading(pair: PairResults) -> None:
    display(Markdown(f"### {pair.cfg.model} / {pair.cfg.task}"))


def show_statistics(pairs: list[PairResults]) -> None:
    """Per pair: the sentences, the comparison table with bootstrap intervals, and the size-score
    curves of every method with error bars (sd over seeds)."""
    for pair in _pairs_with_results(pairs):
        cfg = pair.cfg
        _heading(pair)
        table = comparison_table(cfg, pair.predictions(), pair.phase2())
        if table.empty:
            display(Markdown("*These runs kept no per-example predictions (made by an older version): "
                             "delete the pair's phase-2 folder to rerun them.*"))
            continue
        display(Markdown("\n".join(f"- {line}" for line in conclusions(table))))
        display(comparison_display(table))
        show_forest(table, f"{cfg.model} / {cfg.task}: the comparisons")


def show_cheaper(pairs: list[PairResults]) -> None:
    """Per pair: every cheaper scoring against the full one, and the cheaper ticket phase 2 trained."""
    for pair in _pairs_with_results(pairs):
        cfg = pair.cfg
        _heading(pair)
        table = cheaper_table(pair.dynamics().correct)
        chosen = pair.subsets().info.get("cheaper")
        plot_cheaper_captioned(table, f"{cfg.model} / {cfg.task}: ticket overlap with R = {cfg.runs}, "
                                      f"E = {cfg.phase1.epochs}", chosen)
        if chosen:
            display(Markdown(
                f"Cheapest scoring whose ticket overlaps the full one by Jaccard >= {chosen['min_overlap']:g}: "
                f"**{_count(chosen['runs'], 'run')} x {_count(chosen['epochs'], 'epoch')}** "
                f"({chosen['cost % of full']:.0f}% of the "
                f"scoring cost; overlap {chosen['jaccard with full ticket']:.2f}, Spearman of H "
                f"{chosen['spearman with full H']:.2f}). Phase 2 trained its ticket:"))
            comps = comparison_table(cfg, pair.predictions(), pair.phase2())
            display(comparison_display(comps[comps["B"] == "cheaper ticket"]))
        display(Markdown("Every cheaper scoring, cheapest first (its first r runs and their first e epochs):"))
        display(table.round({"cost % of full": 1, "spearman with full H": 2, "ticket % of train": 1,
                             "jaccard with full ticket": 2}).set_index(["runs", "epochs"]))


def show_fairness_table(table: pd.DataFrame, label_names, runs: int) -> None:
    """``fairness_table`` in three narrow tables: recall per class, false positive rate per class (a column
    per class each), and the bias each training set induces against full data, with how many classes
    CEV and SDE could use."""
    labels = {spec.name: spec.label for spec in subset_family(runs)}
    index = pd.MultiIndex.from_arrays([table["split"], [
        METHOD_LABELS[m] if s == "full" else f"{METHOD_LABELS[m]}, {labels.get(s, s)}"
        for m, s in zip(table["method"], table["subset"])]], names=["split", "training set"])
    for prefix, what in (("recall", "Recall per class (%): how many of the class's examples the model finds"),
                         ("FPR", "False positive rate per class (%): how often the model names the class wrongly")):
        part = table[[f"{prefix} {name}" for name in label_names]].set_axis(list(label_names), axis=1)
        display(Markdown(f"**{what}**, mean over seeds:"))
        display(part.set_axis(index).map(lambda v: "" if pd.isna(v) else f"{v:.1f}"))
    used, k = int(table["classes used"].max()), len(label_names)
    display(Markdown(
        f"**Bias induced against full data** (CEV: spread of the classes' relative changes in false positive and "
        f"false negative rate, in %²; SDE: their mean gap, in %). Relative changes exist only for the classes whose "
        f"full-data FPR and FNR are both above zero: **{used} of the {k} classes** here, "
        + ("so they cannot be computed." if used == 0 else
           f"so these two numbers speak for {'all of them' if used == k else 'those classes only'}.")))
    bias = pd.DataFrame({"CEV (%²)": table["CEV"].map(lambda v: "" if pd.isna(v) else f"{v:,.0f}"),
                         "SDE (%)": table["SDE"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}"),
                         "classes used": [f"{u} of {k}" for u in table["classes used"]]}).set_axis(index)
    display(bias)


def show_fairness(pairs: list[PairResults]) -> None:
    """Per pair whose predictions are classes: per-class recall, CEV and SDE of each training set
    against full data; and the winning ticket's class balance under the paper's H and variants; with a
    class floor, first the profile's answer (``hscore.report.classes``), then the floor's effect per pair."""
    from . import classes

    answer = classes.answer(pairs[0].cfg.profile) if pairs else []
    for title, lines in answer:
        display(Markdown(f"**Does the ticket drop a class, and does a class floor help?** ({title})\n\n"
                         + "".join(f"- {line}\n" for line in lines)))
    for pair in _pairs_with_results(pairs):
        task = get_task(pair.cfg.task, pair.cfg.declared)
        if not get_kind(task.kind).per_class:
            continue
        _heading(pair)
        table = fairness_table(pair.predictions(), task.label_names)
        if not table.empty:
            show_fairness_table(table, task.label_names, pair.cfg.runs)
        dynamics = pair.dynamics()
        display(Markdown("Class balance of the winning ticket under the paper's H and under H computed from the "
                         "later epochs only (a class the runs learn late is not pruned as never-learned):"))
        display(ticket_balance(dynamics.correct, dynamics.label, task.label_names).round(2).set_index("H"))
        show_class_floor(pair, task.label_names)


def show_class_floor(pair: PairResults, label_names) -> None:
    """With ``class_floor``: each class's share of the ticket with and without the floor, what the floor
    changed in accuracy and in each class's recall (``floor_effect``, 95% paired-bootstrap intervals), and
    one sentence per evaluation split; nothing for a pair without the floor."""
    cfg = pair.cfg
    if cfg.class_floor is None:
        return
    subsets, scores = pair.subsets(), pair.scores()
    ticket = subsets.winning_ticket.name
    labels = scores["label"].to_numpy()
    positions = {"winning ticket": subsets.positions("hscore", ticket, 0),
                 f"ticket + floor {cfg.class_floor:g}": subsets.positions("floor", ticket, 0)}
    display(Markdown(f"**The class floor** (`class_floor: {cfg.class_floor:g}`: every class restored to at least "
                     f"{cfg.class_floor:.0%} of its share of the training set, by adding back its pruned examples the "
                     "scoring runs got right most often; `hscore.pruning.classes`). Its class balance:"))
    display(balance_table(class_balance(labels, positions, label_names)))
    table = floor_effect(pair.predictions(), ticket, label_names)
    if table.empty:
        display(Markdown("The ticket with the floor has no phase-2 runs yet (`hscore run` trains them)."))
        return
    for split, part in table.groupby("split", sort=False):
        lines = [f"{r['measure']} {r['floor - ticket']:+.1f} points (95% CI {r['95% CI low']:+.1f} to "
                 f"{r['95% CI high']:+.1f}, {r['verdict']})" for _, r in part.iterrows()]
        display(Markdown(f"On {split}, training on the ticket with the floor instead of the ticket changes "
                         + "; ".join(lines) + f" ({part['seeds'].iloc[0]} seeds x {part['examples'].iloc[0]} "
                         "examples, paired bootstrap)."))
    shown = table.drop(columns=["seeds", "examples"]).set_index(["split", "measure"])
    display(shown.round(1))


def show_pruned(pairs: list[PairResults], per_h: int = 2) -> None:
    """Per pair: the H levels on the data map, example texts at every H, what each method keeps,
    and annotator agreement by H where the task has several references per example."""
    for pair in _pairs_with_results(pairs):
        cfg = pair.cfg
        _heading(pair)
        task = get_task(cfg.task, cfg.declared)
        scores = pair.scores()
        train = pair_splits(task, cfg)["train"]
        display(h_levels(scores, cfg.runs).round(3))
        with pd.option_context("display.max_colwidth", 200):
            display(examples_by_h(scores, train, task.label_names, get_kind(task.kind), per_h=per_h).round(2)
                    .set_index("H"))
        subsets = pair.subsets()
        ticket = subsets.winning_ticket.name
        chosen = {"H-score ticket": subsets.positions("hscore", ticket, cfg.phase2.seeds[0])}
        chosen.update({METHOD_LABELS[m]: subsets.positions(m, ticket, cfg.phase2.seeds[0]) for m in cfg.baselines})
        if paths.subset_key("cheaper", ticket) in subsets.indices:
            chosen["cheaper ticket"] = subsets.positions("cheaper", ticket, cfg.phase2.seeds[0])
        show_membership(scores, chosen, f"{cfg.model} / {cfg.task}: what each method keeps at the ticket's size")
        agreement = agreement_by_h(scores, train)
        if not agreement.empty:
            display(Markdown("Annotator agreement (mean pairwise F1 between an example's reference answers) at "
                             "every H:"))
            display(agreement.round(3))
