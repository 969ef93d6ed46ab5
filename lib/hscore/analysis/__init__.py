"""Analysis: what the results say, computed from the readers (``hscore.study.results``); no training.

- ``tables``    the winning-ticket summary, trade-off, cost and comparison tables, beside the paper
- ``stats``     paired bootstrap intervals over phase-2 seeds and evaluation examples
- ``fairness``  per-class error rates, CEV and SDE; the ticket's class balance under H variants
- ``pruned``    what is pruned: examples at every H, annotator agreement by H
- ``sensitivity``  how far the ticket moves at other scoring settings, and the tickets that moved most
- ``transfer``  a small model's ticket trained on a larger model: scores, intervals, cost
"""
