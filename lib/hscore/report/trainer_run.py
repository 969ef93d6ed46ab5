"""The book's page *Score your own Trainer run* (``notebooks/trainer.ipynb``): what it shows, read from files.

Notebooks never train, so the page shows what ``benchmarks/trainer_engine.py`` measured and recorded in
``benchmarks/trainer/<profile>--<model>--<task>.json`` and ``.npz``: a pair's scoring run through the
built-in loop and through the Hugging Face Trainer with hscore's recorder (``engine: trainer``), their
speeds, the H histograms and winning tickets of both and how far they agree; and, where
``benchmarks/trainer_overhead.py`` has measured it for the same pair, the recorder's overhead in a
user's own Trainer run (``benchmarks/results.jsonl``); and (``show_distributed``) how far one process and
two processes differ, as ``benchmarks/distributed.py`` measured it (``benchmarks/distributed.json``). Every
sentence is computed from those records.
"""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from .. import paths
from ..pruning.scores import h_histogram
from .plots import show as show_figure

RECORD = "default--minilm--rotten_tomatoes"   # the default profile's Rotten Tomatoes scoring
ENGINE_LABELS = {"loop": "built-in loop (engine: loop)", "trainer": "Trainer + recorder (engine: trainer)"}
COLORS = {"loop": "#7f8c8d", "trainer": "#c0392b"}


def load(name: str = RECORD) -> tuple[dict, dict] | None:
    """The record and its arrays, or None when the benchmark has not been run."""
    folder = paths.TRAINER_BENCHMARKS
    if not (folder / f"{name}.json").is_file() or not (folder / f"{name}.npz").is_file():
        return None
    with np.load(folder / f"{name}.npz") as f:
        arrays = {k: f[k] for k in f.files}
    return json.loads((folder / f"{name}.json").read_text()), arrays


def overhead(pair: str) -> dict | None:
    """The latest ``trainer_overhead`` record of ``pair`` in ``benchmarks/results.jsonl``."""
    path = paths.BENCHMARKS / "results.jsonl"
    found = None
    for line in path.read_text().splitlines() if path.is_file() else []:
        record = json.loads(line) if line.strip() else {}
        if record.get("benchmark") == "trainer_overhead" and record.get("pair") == pair:
            found = record
    return found


def plot_histograms(arrays: dict, runs: int):
    """Examples per H value, both engines side by side; the winning ticket's H values (1..R-1) shaded."""
    fig, ax = plt.subplots(figsize=(6.8, 3.6))
    width, top = 0.4, 0
    ax.axvspan(0.5, runs - 0.5, color="#f9e79f", alpha=0.5, lw=0, label="winning ticket (H 1 to R-1)")
    for k, engine in enumerate(("loop", "trainer")):
        counts = h_histogram(arrays[f"h_{engine}"], runs)
        top = max(top, int(counts.max()))
        bars = ax.bar(counts.index + (k - 0.5) * width, counts.values, width, color=COLORS[engine],
                      edgecolor="black", linewidth=0.4, label=ENGINE_LABELS[engine])
        for bar, c in zip(bars, counts.values):
            ax.annotate(str(c), (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom",
                        fontsize=7)
    ax.set_xticks(range(runs + 1))
    ax.set_xlabel(f"H-score (runs of {runs} in which the example was right in every epoch)")
    ax.set_ylabel("training examples")
    ax.set_ylim(0, top * 1.45)
    ax.legend(fontsize=8, frameon=False, loc="upper center", ncol=2)
    ax.set_title("H histogram, the two engines")
    fig.tight_layout()
    return fig


def ticket_table(arrays: dict, runs: int) -> pd.DataFrame:
    """Size and label balance of each engine's winning ticket, and their overlap."""
    label = arrays["label"]
    rows = []
    tickets = {}
    for engine in ("loop", "trainer"):
        h = arrays[f"h_{engine}"]
        kept = (h >= 1) & (h <= runs - 1)
        tickets[engine] = kept
        row = {"engine": ENGINE_LABELS[engine], "ticket size": int(kept.sum()),
               "% of train": 100 * kept.mean()}
        for c in np.unique(label):
            row[f"class {c}: % of its examples kept"] = 100 * kept[label == c].mean()
        rows.append(row)
    both = tickets["loop"] & tickets["trainer"]
    either = tickets["loop"] | tickets["trainer"]
    table = pd.DataFrame(rows)
    table.attrs["overlap"] = (int(both.sum()), int(either.sum()))
    return table


def show(name: str = RECORD) -> None:
    """The page's results: what was run, the speeds, the agreement, the histogram figure, the tickets."""
    loaded = load(name)
    if loaded is None:
        display(Markdown(f"No record `benchmarks/trainer/{name}.json` yet: run `python benchmarks/trainer_engine.py` "
                         "(10 to 15 minutes on a 2-core CPU) and rebuild the book."))
        return
    record, arrays = loaded
    runs, epochs, n = record["runs"], record["epochs"], record["examples"]
    a = record["agreement"]
    rates, best = record["examples_per_second"], record["examples_per_second_best"]
    capped = ""
    if record.get("profile_train_cap") and record["profile_train_cap"] != n:
        capped = (f" (capped below the profile's {record['profile_train_cap']} with `--examples {n}`: run "
                  "`python benchmarks/trainer_engine.py` for the profile's own size)")
    if record.get("profile_runs") and record["profile_runs"] != runs:
        capped += f"; {runs} of the profile's {record['profile_runs']} scoring runs"
    same = ("identical in every one" if a["identical_flags"] == a["flags"] else
            f"identical in {a['identical_flags']} of {a['flags']}")
    display(Markdown(
        f"**What was run** (`benchmarks/trainer_engine.py`, {record['time'][:10]}): the `{record['profile']}` "
        f"profile's `{record['pair']}` scoring, {runs} runs (seeds {', '.join(map(str, record['seeds']))}) x "
        f"{epochs} epochs on {n} training examples{capped}, batch {record['batch_size']}, lr {record['lr']:g}, "
        f"{'padding-free' if record['padding_free'] else 'padded'}, on {record['device']}; each run once through "
        f"each engine, alternating which went first.\n\n"
        f"| | examples/s, median run | examples/s, fastest run |\n|---|---|---|\n"
        f"| {ENGINE_LABELS['loop']} | {rates['loop']:.1f} | {best['loop']:.1f} |\n"
        f"| {ENGINE_LABELS['trainer']} | {rates['trainer']:.1f} | {best['trainer']:.1f} |\n\n"
        f"The Trainer route runs at {record['trainer_vs_loop_paired']:.2f}x the loop's speed (median over seeds of "
        f"the two runs of a seed, back to back; {record['trainer_vs_loop']:.2f}x of the median runs, "
        f"{record['trainer_vs_loop_best']:.2f}x of the fastest: other jobs shared the machine).\n\n"
        f"**Agreement.** Of the {a['flags']:,} recorded correct flags (run x epoch x example) the two engines "
        f"are {same}; the largest difference of a recorded gold probability is {a['max_gold_prob_difference']:.3g}. "
        f"Half the L1 distance of the H histograms: {a['histogram_distance']:.3f} of the examples; Spearman "
        f"correlation of H: {a['spearman_h']:.3f}; Jaccard index of the winning tickets: "
        f"{a['ticket_jaccard']:.3f}. The Trainer route keeps the loop's order, seeds, optimiser, schedule, "
        "clipping, loss and batches, so on one machine it draws the same dropout masks and computes the same "
        "numbers."))
    loop, trainer = (h_histogram(arrays[f"h_{e}"], runs) for e in ("loop", "trainer"))
    show_figure(plot_histograms(arrays, runs),
         f"H histogram of the same scoring through the two engines, side by side: {ENGINE_LABELS['loop']} "
         + ", ".join(str(int(c)) for c in loop) + f" and {ENGINE_LABELS['trainer']} "
         + ", ".join(str(int(c)) for c in trainer) + f" examples at H = 0..{runs}"
         + (" (the same counts)." if loop.equals(trainer) else "."),
         f"Paired bar chart of training examples per H-score, 0 to {runs}, for the two engines.")
    table = ticket_table(arrays, runs)
    both, either = table.attrs["overlap"]
    display(Markdown(f"**The winning ticket** of each engine (H 1 to {runs - 1}); {both} examples are in both, "
                     f"{either} in either."))
    display(table.round(1))
    cost = overhead(record["pair"])
    if cost is None:
        display(Markdown("The recorder's overhead in a user's own Trainer run is measured by "
                         "`python benchmarks/trainer_overhead.py`; no record for this pair yet."))
        return
    display(Markdown(
        f"**Recording overhead** (`benchmarks/trainer_overhead.py`, {cost['time'][:10]}, {cost['device']}): the same "
        f"Trainer run on {cost['examples']} examples with and without the recorder, {cost['rounds']} rounds "
        f"alternating: a median optimiser step of {1e3 * cost['median_step_s']['plain']:.1f} ms plain and "
        f"{1e3 * cost['median_step_s']['recorder']:.1f} ms recording (paired ratio {cost['paired_step_ratio']:.3f}, "
        f"the machine's noise included); the recorder's own work, timed alone, is "
        f"{1e6 * cost['record_call_s']:.0f} µs per micro-batch, {100 * cost['record_call_share_of_step']:.2f}% of a "
        f"step, plus {1e3 * sum(cost['fixed_s'].values()):.0f} ms per run (rows, fingerprint, epoch merge, files). "
        f"Same training loss with and without: {'yes' if cost['same_loss'] else 'no'}."))


def distributed_sentence(record: dict) -> str:
    """What ``benchmarks/distributed.json`` says, in one sentence: two processes against one, beside two
    sets of seeds against each other."""
    two, seeds = record["against_one_process"]["two"], record["against_one_process"]["other seeds"]
    return (f"On the default profile's Rotten Tomatoes pair ({record['examples']:,} examples, R = {record['runs']} "
            f"runs x {record['epochs']} epochs, a global batch of {record['global_batch']}), the same seeds run in two "
            f"processes instead of one agree on {100 * two['flags_agree']:.1f}% of the correct flags, change H for "
            f"{100 * two['rows_changing_h']:.1f}% of the rows and give a winning ticket of Jaccard "
            f"{two['ticket_jaccard']:.2f} with the one-process ticket (Spearman of H {two['spearman_h']:.2f}); other "
            f"seeds in one process agree on {100 * seeds['flags_agree']:.1f}% of the flags, change H for "
            f"{100 * seeds['rows_changing_h']:.1f}% of the rows, ticket Jaccard {seeds['ticket_jaccard']:.2f} "
            f"(Spearman {seeds['spearman_h']:.2f}). Going distributed moves H "
            f"{'less' if two['ticket_jaccard'] > seeds['ticket_jaccard'] else 'no less'} than changing the seeds "
            "does, but it does move it: the rows come in the same order, but each process draws its own dropout masks "
            "and sums its gradients in another order, so the two-process run of a seed is another random run (without "
            "dropout the two agree but for rounding: tests/test_recorder.py).")


def show_distributed() -> None:
    """The sentence and the table of ``benchmarks/distributed.json``, or a line saying how to make it."""
    path = paths.BENCHMARKS / "distributed.json"
    if not path.is_file():
        display(Markdown("Not measured yet: `python benchmarks/distributed.py` (about 20 minutes on a 2-core CPU)."))
        return
    record = json.loads(path.read_text())
    display(Markdown(distributed_sentence(record) + f" (`benchmarks/distributed.py`, {record['date']}.)"))
    rows = {name: {"correct flags agree (%)": 100 * r["flags_agree"], "rows whose H changes (%)":
                   100 * r["rows_changing_h"], "Spearman of H": r["spearman_h"], "ticket size": r["ticket_size"],
                   "ticket Jaccard": r["ticket_jaccard"]} for name, r in record["against_one_process"].items()}
    display(pd.DataFrame(rows).T.rename(index={"two": "two processes, same seeds",
                                              "other seeds": "one process, other seeds"}).round(2))
