"""ifmf verification: graph limits, hypothesis checks, metrics, studies and the ``ifmf`` command."""
