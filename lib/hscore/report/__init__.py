"""Report: what a reader sees, from the analysis and the readers; nothing here trains.

- ``display``  the notebooks' tables and sentences (Markdown and HTML)
- ``plots``    the book's figures
- ``sensitivity``  the chapter on how far the winning ticket moves at other scoring settings
- ``transfer``     the chapter on a small model's ticket trained on a larger model
- ``scaling``      the chapter on how the ticket changes with the size of the data
- ``classes``      the answer on whether the ticket drops a class and what the class floor does
- ``noise``        the chapter on what H = 0 holds when labels are flipped, against cleanlab
- ``front``    each profile's answer on the front page: the README, the landing page, ``hscore findings``
- ``book``     papermill runs and the Jupyter Book build of a profile
- ``prune``    ``hscore prune``: the plan of one pair, then the scores, subsets and report as files
- ``trainer_run`` the page *Score your own Trainer run*, from ``benchmarks/trainer_engine.py``'s records
"""
