"""The study: the plan of steps, what each step's result depends on, running them, reading them back.

- ``plan``       a profile resolved into its steps and validated before anything trains
- ``run``        ``Run`` and ``PairRuns``: each step's identity and state; the one definition of done
- ``store``      a step's lock (its record, ``step.json``, is ``hscore.records``')
- ``selection``  the select step's scores and subsets, computed and read back
- ``select_runs`` ``hscore select RUN_DIR...`` / ``hscore.select``: the same from runs recorded anywhere
- ``steps``      running one step in this process
- ``executors``  where steps run (this process, worker processes, Slurm) and the scheduler
- ``results``    the readers: exactly the plan's current runs
"""
