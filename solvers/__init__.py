"""ifmf numerical references: neuron models, kernels, network simulators, mean-field solvers.

This package never imports :mod:`verification` and does no plotting or file output.
"""
from solvers.errors import ConvergenceError, IfmfError, InvalidArgumentError, SimulationError

__version__ = "0.1.0"
__all__ = ["IfmfError", "InvalidArgumentError", "SimulationError", "ConvergenceError", "__version__"]
