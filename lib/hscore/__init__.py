"""hscore: automatic, success-rate-based pruning of fine-tuning datasets.

A reproduction of Tayaranian et al., "Automatic Pruning of Fine-tuning Datasets for
Transformer-based Language Models" (arXiv:2407.08887). The modules, in the order a study uses them:

- ``config``    the study configuration (``study.yaml``) resolved into frozen dataclasses
- ``paths``     every file location the study reads or writes
- ``tasks``     the task registry: loading splits, fields, labels, kind, metric
- ``bigbench``  offline tasks of every kind from the bigbench 1.0.0 source archive
- ``kinds``     task kinds behind one seam: classification, extractive QA, multiple choice
- ``squad``     SQuAD post-processing and the ``squad_v2`` metric, computed locally
- ``models``    loading a pretrained model with the head a kind trains, and its tokenizer
- ``pair_template``  OPT sentence pairs encoded as the paper's code encoded them
- ``train``     the plain fine-tuning loop that records training dynamics at no extra forward pass
- ``dynamics``  ``TrainingDynamics``: the per-example record of every scoring run, on disk
- ``scores``    H-score, success rate and Dataset-Cartography statistics, pure functions
- ``subsets``   the H-score subset family (the winning ticket first) and size-matched baselines
- ``store``     atomic writes and resumable, configuration-checked steps
- ``study``     phase 1 and phase 2 for one model-task pair, resumable
- ``summary``   the winning-ticket table across pairs, beside the paper's numbers
- ``plots``     the figures of the book
- ``book``      papermill runs and the Jupyter Book build for a profile
"""

__version__ = "0.1.0"
