"""Pruning: pure functions from recorded dynamics to scores and from scores to kept positions.

- ``scores``     H-score, success rate, Dataset-Cartography statistics and the baselines' scores
- ``subsets``    the H-score subset family (the winning ticket first) and the selection rules
- ``baselines``  the size-matched baselines, one registry
- ``cheaper``    H and the ticket from fewer scoring runs or epochs
- ``variants``   one scoring against another: how far the ticket moves at another setting
- ``classes``    each class's share of every subset, a warning per class that falls away, the class floor

Arrays in, positions out: nothing here reads a file, a configuration or a model.
"""
