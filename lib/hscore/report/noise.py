"""The chapter *What H = 0 holds: label noise*: planted label flips, found by H = 0 and by cleanlab.

Reads the pairs of a profile that plant label noise or run cleanlab beside the H-score (the ``noise``
profile: one task at several noise rates, ``label_noise``), computes with ``hscore.analysis.noise`` and
shows: the sentences (precision and recall of H = 0 against cleanlab's first), the detection table per
rate with bootstrap intervals, a precision-recall figure per rate, what each source of scores cost, the
phase-2 comparison (ticket, random subsets of its size and full data minus cleanlab's issues, each against
full noisy data) and whether the ticket's gain grows with the noise. Nothing here trains or writes a file.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from .. import config
from ..analysis import noise
from ..analysis.scaling import data_of
from ..analysis.tables import METHOD_LABELS
from ..data import get_task
from ..study.results import PairResults
from .plots import show

SUPPORT = 50.0   # the precision at 10% noise (%) a list of likely mislabelled rows needs before users are shown one
STYLE = {noise.H_ZERO: ("#c0392b", "-"), "confidence": ("#e67e22", "--"), "forgetting": ("#7f8c8d", ":"),
         "AUM": ("#16a085", "-."), "EL2N": ("#8e44ad", "--"), "EL2N (train step)": ("#8e44ad", ":"),
         noise.LIKELY_MISLABELLED: ("#c0392b", ":"), noise.CLEANLAB_CV: ("#2471a3", "-"),
         noise.CLEANLAB_FREE: ("#2471a3", "--")}


def noise_pairs(profile: str) -> list[PairResults]:
    """The profile's pairs that ask the noise question (``noise.is_noise_pair``), lowest rate first."""
    cfgs = [c for c in config.profile_configs(profile) if noise.is_noise_pair(c)]
    return [PairResults(c) for c in sorted(cfgs, key=noise.noise_rate)]


def _done(pair: PairResults) -> bool:
    return pair.runs["select"].done and all(r.done for r in pair.runs.stage("finetune"))


def measured(profile: str) -> dict | None:
    """Everything the chapter and the README's answer read, or None until every noise pair's runs are done:
    per rate its pair, flipped rows and detectors (each computed once: the data loaded, cleanlab called), detection
    table, phase-2 effects, cost, (without noise) the rows each detector flags and (with noise) where the flipped
    rows land; and the ticket's gain against the rate (``noise.growth``)."""
    pairs = noise_pairs(profile)
    if not pairs or not all(_done(p) for p in pairs):
        return None
    rates = {}
    for pair in pairs:
        rate, scores = noise.noise_rate(pair.cfg), pair.scores()
        noisy, found = noise.flipped_rows(pair.cfg, scores), noise.detectors(pair)   # once: data, cleanlab
        rates[rate] = {"pair": pair, "noisy": noisy, "found": found, "detection": noise.detection(found, noisy),
                       "effects": noise.effects(pair), "cost": noise.cost(pair),
                       "flags": noise.false_flags(found) if rate == 0 else None,
                       "where": noise.flipped_by_h(scores["h"].to_numpy(), noisy, pair.cfg.runs) if rate > 0 else None}
    return {"rates": rates, "growth": noise.growth(pairs)}


def _ci(row, what: str, digits: int = 0) -> str:
    return f"{row[what]:.{digits}f} ({row[f'{what} low']:.{digits}f} to {row[f'{what} high']:.{digits}f})"


def _pr(row) -> str:
    return (f"precision {row['precision']:.0f}% (95% CI {row['precision low']:.0f} to {row['precision high']:.0f}), "
            f"recall {row['recall']:.0f}% ({row['recall low']:.0f} to {row['recall high']:.0f})")


def _gain(row) -> str:
    return f"{row['difference']:+.1f} points (95% CI {row['low']:+.1f} to {row['high']:+.1f})"


def listing(m: dict) -> dict | None:
    """The candidate listing of likely mislabelled rows (``noise.LIKELY_MISLABELLED``) as measured at 10% noise
    (else the nearest planted rate): rate, rows listed, precision with its interval, and whether it meets the bar
    for showing it to users (precision >= ``SUPPORT``)."""
    noisy = sorted(r for r in m["rates"] if r > 0)
    if not noisy:
        return None
    rate = min(noisy, key=lambda r: abs(r - 0.1))
    table = m["rates"][rate]["detection"].set_index("detector")
    row = table.loc[noise.LIKELY_MISLABELLED]
    return {"rate": rate, "listed": int(row["flagged"]), "precision": float(row["precision"]),
            "low": float(row["precision low"]), "high": float(row["precision high"]),
            "recall": float(row["recall"]), "offered": bool(row["precision"] >= SUPPORT)}


def sentences(m: dict) -> list[str]:
    """The chapter's computed sentences, most important first."""
    out = []
    for rate, r in m["rates"].items():
        if rate == 0 or r["detection"].empty:
            continue
        table = r["detection"].set_index("detector")
        h, cv = table.loc[noise.H_ZERO], table.loc[noise.CLEANLAB_CV] if noise.CLEANLAB_CV in table.index else None
        text = (f"At {rate:.0%} flipped labels ({int(h['flipped'])} of {r['pair'].scores().shape[0]}), H = 0 flags "
                f"{int(h['flagged'])} rows: {_pr(h)}")
        if cv is not None:
            folds = r["pair"].cfg.cleanlab_folds
            text += (f"; cleanlab on {folds}-fold cross-validated probabilities ({r['cost']['fold runs']} more runs, "
                     f"{r['cost']['fold seconds']:.0f} s beside the scoring runs' "
                     f"{r['cost']['scoring seconds']:.0f} s) "
                     f"flags {int(cv['flagged'])}: {_pr(cv)}")
        out.append(text + ".")
    growth = m["growth"]
    effects = {rate: r["effects"].set_index("method") for rate, r in m["rates"].items() if not r["effects"].empty}
    if effects:
        parts = [f"{_gain(e.loc['hscore'])} at {rate:.0%}" for rate, e in effects.items() if "hscore" in e.index]
        text = "Training on the winning ticket instead of full (noisy) data: " + ", ".join(parts)
        if not growth.empty:
            top = growth.iloc[-1]
            grows = top["verdict"] == "higher"
            text += (f"; its gain at {top['rate']:.0%} minus its gain at {top['base rate']:.0%} is {_gain(top)}: "
                     + ("it grows with the noise, as Dohmatob et al. (2025) predict for pruning under bad labels"
                        if grows else "it does not grow measurably with the noise at this size"))
        out.append(text + f" ({_seeds(effects)}).")
        for rate, r in m["rates"].items():
            lost = lost_classes(r["pair"])
            if lost:
                out.append(f"At {rate:.0%} the winning ticket keeps no example of class {', '.join(map(repr, lost))}: "
                           "its score there measures that loss as much as the noise.")
        for method, named in (("cleanlab", "full data minus cleanlab's issues"),
                              ("random", "random subsets of the ticket's size")):
            parts = [f"{_gain(e.loc[method])} at {rate:.0%}" for rate, e in effects.items() if method in e.index]
            if parts:
                out.append(f"Training on {named} instead: " + ", ".join(parts) + ".")
    for rate, r in m["rates"].items():
        if rate == 0 or r["detection"].empty:
            continue
        table = r["detection"].set_index("detector")
        best = table["AUROC"].idxmax()
        named = "H" if best == noise.H_ZERO else best
        free = table.loc[noise.CLEANLAB_FREE] if noise.CLEANLAB_FREE in table.index else None
        text = f"At {rate:.0%}, ranked by each score, the best AUROC is {named}'s ({_ci(table.loc[best], 'AUROC', 2)})"
        if best != noise.H_ZERO:
            text += f"; H's is {table.loc[noise.H_ZERO, 'AUROC']:.2f}"
        if noise.CLEANLAB_CV in table.index:
            text += f", cross-validated cleanlab's {table.loc[noise.CLEANLAB_CV, 'AUROC']:.2f}"
        if free is not None:
            text += (f"; cleanlab on the scoring runs' first-epoch probabilities (no run more) flags "
                     f"{int(free['flagged'])} with {_pr(free)}, AUROC {free['AUROC']:.2f}")
        out.append(text + ".")
    for rate, r in m["rates"].items():
        if r["where"] is None or r["detection"].empty:
            continue
        h, where, runs = r["detection"].set_index("detector").loc[noise.H_ZERO], r["where"], r["pair"].cfg.runs
        out.append(f"What the paper's rule drops at {rate:.0%} noise: {h['precision']:.0f}% of the H = 0 rows are "
                   f"flipped labels and {100 - h['precision']:.0f}% clean rows the runs never learned; of the "
                   f"{where['flipped']} flipped rows, {where['H = 0']} have H = 0 (dropped), {where['ticket']} stay in "
                   f"the winning ticket and {where['H = R']} have H = {runs} (dropped as easy: every run learned the "
                   "flipped label from the first epoch).")
    dropped = [(rate, r["where"]["H = 0"], int(r["detection"].set_index("detector").loc[noise.H_ZERO, "flagged"]))
               for rate, r in m["rates"].items() if r["where"] is not None and not r["detection"].empty]
    if dropped:
        more_clean = all(flagged - hit > hit for _, hit, flagged in dropped)
        out.append("For the paper's choice to drop H = 0: with the flipped rows it drops ("
                   + ", ".join(f"{hit} at {rate:.0%}" for rate, hit, _ in dropped) + ") go "
                   + ("more" if more_clean else "fewer") + " correct rows ("
                   + ", ".join(f"{flagged - hit}" for _, hit, flagged in dropped) + "): "
                   + ("at this scale it drops the hard rows that noise falls among, not the noise alone"
                      if more_clean else "at this scale it drops mostly noise") + ".")
    clean = m["rates"].get(0.0)
    if clean is not None and clean["flags"] is not None:
        flags = clean["flags"].set_index("detector")["flagged"]
        out.append(f"Without planted noise, H = 0 flags {flags[noise.H_ZERO]} rows"
                   + (f" and cleanlab {flags[noise.CLEANLAB_CV]}" if noise.CLEANLAB_CV in flags.index else "")
                   + " (the data's own label errors are unknown, so their precision cannot be measured there).")
    offer = listing(m)
    if offer is not None:
        verdict = (f"at least {SUPPORT:.0f}%, the bar a list for users needs; hscore lists none (the bar was not met "
                   "where it was first measured, the noise profile)" if offer["offered"] else
                   f"below the {SUPPORT:.0f}% a list for users needs: {100 - offer['precision']:.0f}% of the listed "
                   "rows would be correct labels, so `hscore select` and `hscore prune` list none (the scores table "
                   "has H and AUM for anyone who wants to look)")
        out.append(f"Rows with H = 0 whose runs put another class above their label on average (AUM < 0): at "
                   f"{offer['rate']:.0%} noise {offer['listed']} rows, precision {offer['precision']:.0f}% (95% CI "
                   f"{offer['low']:.0f} to {offer['high']:.0f}), recall {offer['recall']:.0f}%; {verdict}.")
    return out


def lost_classes(pair: PairResults) -> list[str]:
    """The classes of the training set the pair's winning ticket keeps no example of."""
    labels = pair.scores()["label"].to_numpy()
    ticket = pair.subsets().positions("hscore", pair.subsets().winning_ticket.name, 0)
    names = get_task(pair.cfg.task, pair.cfg.declared).label_names
    return [names[c] for c in sorted(set(labels.tolist()) - set(labels[ticket].tolist()))]


def _seeds(effects: dict) -> str:
    e = next(iter(effects.values())).iloc[0]
    seeds = int(e["seeds"])
    return (f"{e['split']}, {seeds} seed{'s' if seeds > 1 else ''} x {int(e['examples'])} examples, paired bootstrap"
            + ("; with one seed only the examples are resampled, so the seeds' own noise is not in the interval"
               if seeds == 1 else ""))


def answer(profile: str) -> list[tuple[str, list[str]]]:
    """The profile's answer, one entry for all its noise pairs: [(title, sentences)]; [] until their runs are done."""
    m = measured(profile)
    if m is None:
        return []
    pairs = [r["pair"] for r in m["rates"].values()]
    rates = ", ".join(f"{rate:.0%}" for rate in m["rates"])
    return [(f"{pairs[0].cfg.model} on {data_of(pairs[0].cfg)} at {rates} flipped labels",
             sentences(m))]


def detection_display(table: pd.DataFrame) -> pd.DataFrame:
    """The detection table as the chapter shows it: one column per measure, its 95% interval beside it."""
    return pd.DataFrame({"flagged": table["flagged"],
                         "precision % (95% CI)": [_ci(r, "precision") for _, r in table.iterrows()],
                         "recall % (95% CI)": [_ci(r, "recall") for _, r in table.iterrows()],
                         "AUROC (95% CI)": [_ci(r, "AUROC", 2) for _, r in table.iterrows()]}
                        ).set_axis(table["detector"].rename("detector"))


def effects_display(effects: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"training set": [METHOD_LABELS[m] for m in effects["method"]], "size": effects["size"],
                         "accuracy": effects["score"].round(1), "full data": effects["full data"].round(1),
                         "difference (95% CI)": [_gain(r).replace(" points", "") for _, r in effects.iterrows()],
                         "verdict": effects["verdict"]}).set_index("training set")


def show_pr(m: dict) -> None:
    """One panel per planted rate: each ranking's precision against its recall, H = 0 and cleanlab's flags as points."""
    noisy = [(rate, r) for rate, r in m["rates"].items() if rate > 0 and not r["detection"].empty]
    if not noisy:
        return
    fig, axes = plt.subplots(1, len(noisy), figsize=(4.6 * len(noisy), 3.8), squeeze=False, sharey=True)
    for ax, (rate, r) in zip(axes[0], noisy):
        for name, (_, score) in r["found"].items():
            if name == noise.LIKELY_MISLABELLED:
                continue
            color, style = STYLE.get(name, ("#34495e", "-"))
            recall, precision = noise.pr_curve(score, r["noisy"])
            ax.plot(100 * recall, 100 * precision, color=color, linestyle=style, linewidth=1.4, label=name)
        table = r["detection"].set_index("detector")
        for name, marker in ((noise.H_ZERO, "o"), (noise.CLEANLAB_CV, "s"), (noise.CLEANLAB_FREE, "^")):
            if name in table.index:
                ax.plot(table.loc[name, "recall"], table.loc[name, "precision"], marker=marker, linestyle="none",
                        color=STYLE[name][0], markersize=7, markeredgecolor="black")
        ax.axhline(100 * rate, color="#7b7d7d", linestyle=":", linewidth=1)
        ax.set(title=f"{rate:.0%} of labels flipped", xlabel="recall of flipped rows (%)", xlim=(0, 100), ylim=(0, 100))
    axes[0][0].set_ylabel("precision (%)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="upper center", ncol=4, bbox_to_anchor=(0.5, 0.0), frameon=False)
    show(fig, "Precision against recall of the flipped rows, for each score ranked from likeliest flipped down. "
              "Points: the rows H = 0 flags (circle) and cleanlab flags, cross-validated (square) and on the "
              "first-epoch probabilities (triangle). The dotted line is the planted rate, the precision of a random "
              "list. What to see: where H = 0's point sits against cleanlab's, and which ranking stays high longest.",
         "Precision-recall curves of each detector of flipped labels, one panel per noise rate.")


def _per_rate(m: dict, key: str, shown, what: str) -> None:
    """For each rate with a ``key`` table: a line saying what it holds, then the table as ``shown`` makes it."""
    for rate, r in m["rates"].items():
        if not r[key].empty:
            display(Markdown(f"**{rate:.0%}** ({r['pair'].cfg.task}) {what}"))
            display(shown(r[key]))


def show_noise(profile: str) -> None:
    m = measured(profile)
    if m is None:
        pairs = noise_pairs(profile)
        display(Markdown("*No pair of this profile plants label noise or runs cleanlab (`label_noise`, "
                         "`cleanlab_folds` in study.yaml).*" if not pairs else
                         f"*Not every run is done yet (`hscore run --profile {profile}`).*"))
        return
    display(Markdown("\n".join(f"- {line}" for line in sentences(m))))
    display(Markdown("### Finding the flipped rows"))
    binary = all(get_task(r["pair"].cfg.task, r["pair"].cfg.declared).num_labels == 2 for r in m["rates"].values())
    _per_rate(m, "detection", detection_display,
              "of the training labels flipped: each detector's rows flagged, the share of them that are flipped "
              "(precision), the share of flipped rows among them (recall) and AUROC of its ranking; 95% intervals "
              "from 1,000 bootstrap samples of the training rows. The scores flag as many rows as H = 0 does"
              + ("; with two classes AUM is 2 x the gold probability - 1 at every check, so it ranks as confidence "
                 "does." if binary else "."))
    show_pr(m)
    display(Markdown("### What each costs"))
    display(pd.DataFrame({f"{rate:.0%}": {"scoring runs (every score but cleanlab's cross-validation)":
                                          f"{r['cost']['scoring runs']} runs, {r['cost']['scoring seconds']:.0f} s",
                                          "cleanlab's cross-validation": f"{r['cost']['fold runs']} runs, "
                                                                          f"{r['cost']['fold seconds']:.0f} s"}
                          for rate, r in m["rates"].items()}))
    display(Markdown("### Training on what is left"))
    _per_rate(m, "effects", effects_display,
              "flipped: each training set against full (noisy) data at the same seeds, accuracy on the clean "
              "validation set; 95% intervals from a paired bootstrap over seeds and validation examples.")
    if not m["growth"].empty:
        display(Markdown("**Does the ticket's gain grow with the noise?** Its gain over full data at each rate minus "
                         "its gain at the lowest rate (the validation set is the same):"))
        g = m["growth"]
        display(pd.DataFrame({"rate": [f"{r:.0%}" for r in g["rate"]], "gain": g["gain"].round(1),
                              "gain at the lowest rate": g["base gain"].round(1),
                              "difference (95% CI)": [_gain(r).replace(" points", "") for _, r in g.iterrows()],
                              "verdict": g["verdict"]}).set_index("rate"))
