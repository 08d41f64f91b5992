"""Sub-commands of ``ifmf``.  Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int`` (the exit code); :mod:`verification.cli` registers the modules listed in
``COMMANDS``."""

COMMANDS = ("simulate", "check_weights", "report", "verify")
