"""Network simulators for SPEC section 1: exact event-driven thinning and a clock-driven scheme.

Entry point :func:`simulate`; the result is a :class:`SimulationResult`.  Weights enter through a
:class:`SynapticOperator` (dense or sparse, see :mod:`solvers.particles.operators`; low-rank
``U diag(s) V^T / N``, see :mod:`solvers.particles.lowrank`; on the fly ``w(xi_i, xi_j) / N``, see
:mod:`solvers.particles.onthefly`).  Each scheme is in its own module:
:mod:`solvers.particles.exact`, :mod:`solvers.particles.clock`.  Every compiled loop (dense, sparse,
low-rank, on the fly) runs in chunks (:mod:`solvers.particles._chunks`): Ctrl-C stops it,
``max_wall_time=`` bounds it, and a progress bar shows long runs.
"""
from solvers.particles.api import METHODS, PATHS, simulate
from solvers.particles.lowrank import LowRankOperator
from solvers.particles.onthefly import OnTheFlyOperator
from solvers.particles.operators import DenseOperator, SparseOperator, SynapticOperator, make_operator
from solvers.particles.result import PopulationRate, SimulationInfo, SimulationResult

__all__ = ["simulate", "SimulationResult", "SimulationInfo", "PopulationRate", "SynapticOperator", "DenseOperator",
           "SparseOperator", "LowRankOperator", "OnTheFlyOperator", "make_operator", "METHODS", "PATHS"]
