"""Sub-commands of ``ifmf``.  Each module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int`` (the exit code), optionally ``DESCRIPTION`` and ``EPILOG`` (plain text for
``--help``) and ``ALIASES`` (library argument names -> the command's flags, for error messages);
:mod:`verification.cli` registers the modules listed in ``COMMANDS``.  Modules import the numerical
packages inside ``run`` so that ``ifmf --help`` stays fast."""

COMMANDS = ("simulate", "solve", "stationary", "weights", "check_weights", "cut_norm", "report", "verify")
