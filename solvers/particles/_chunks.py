"""Long runs that can be stopped: the compiled loops run in chunks, and between chunks this module
checks the wall-clock budget, draws the progress bar and lets Ctrl-C through.

A compiled loop cannot be interrupted: Python's SIGINT handler only sets a flag, acted on once the
compiled call returns.  So every compiled loop of :mod:`solvers.particles` is written as a *chunk*
(:mod:`solvers.particles._kernels`): it runs until it has done about :data:`CHUNK_WORK` units of work
(one unit per state entry touched, 64 per candidate event: about 5-20 ms on one core) and returns,
its whole state kept in arrays, and the driver calls it again.  The spikes and states of a run do
not depend on where it was cut: a chunked run is bit-identical to a run in one chunk (tested).

Between chunks, :class:`RunMonitor`

* lets ``KeyboardInterrupt`` propagate (Ctrl-C stops a run within one chunk).  The partial run is
  discarded, never returned: the exception carries a note (``__notes__``, Python >= 3.11) with the
  simulated time reached, the spikes so far and the wall time, for the caller to report;
* raises :class:`~solvers.errors.SimulationError` when the run has used more than ``max_wall_time``
  seconds (the loop alone: validation and numba compilation are not counted);
* shows a tqdm progress bar on simulated time, on stderr: by default only when stderr is a terminal
  and only once the run has lasted :data:`PROGRESS_DELAY` seconds (``progress=None``), always with
  ``progress=True``, never with ``progress=False``.

The Python reference loops call :meth:`RunMonitor.update` every few hundred events, so they obey the
same budget and bar (Ctrl-C interrupts them anyway).
"""
from __future__ import annotations

import logging
import math
import sys
import time
from typing import Any, TextIO

from solvers.errors import SimulationError

__all__ = ["CHUNK_WORK", "PROGRESS_DELAY", "RunMonitor"]

log = logging.getLogger(__name__)

#: work units per chunk of a compiled loop (see the module docstring); read at each run
CHUNK_WORK = 1 << 23
#: seconds a run must last before the automatic progress bar appears
PROGRESS_DELAY = 3.0


class RunMonitor:
    """What happens between two chunks of a run: budget, progress bar, interruption note.

    Parameters
    ----------
    method : str
        ``"exact"`` or ``"clock"`` (for messages).
    N : int
        Number of neurons (for the rate shown).
    t_end : float
        Horizon of the run (the bar's total).
    max_wall_time : float or None
        Wall-clock budget in seconds of the loop, or ``None`` for none.
    progress : bool or None
        ``None``: a bar on ``file`` if it is a terminal, shown after :data:`PROGRESS_DELAY` seconds;
        ``True``: always, from the start; ``False``: never.
    file : text stream, optional
        Where the bar goes (default: ``sys.stderr`` at the time the run starts).
    """

    def __init__(self, *, method: str, N: int, t_end: float, max_wall_time: float | None = None,
                 progress: bool | None = None, file: TextIO | None = None):
        self.method = method
        self.N = int(N)
        self.t_end = float(t_end)
        self.max_wall_time = max_wall_time
        self.progress = progress
        self.file = file
        self.t_reached = 0.0
        self.n_spikes = 0
        self.n_candidates = 0
        self.n_updates = 0
        self._start = time.perf_counter()
        self._bar: Any = None

    # ----------------------------------------------------------------------------- context
    def __enter__(self) -> RunMonitor:
        self._start = time.perf_counter()
        file = sys.stderr if self.file is None else self.file
        if self.progress is False:
            return self
        if self.progress is None:
            isatty = getattr(file, "isatty", None)
            if not (callable(isatty) and isatty()):
                return self
        from tqdm import tqdm

        self._bar = tqdm(total=self.t_end, file=file, delay=0.0 if self.progress else PROGRESS_DELAY,
                         desc=f"simulate {self.method} N={self.N}", unit="", mininterval=0.5, leave=True,
                         bar_format="{desc}: {percentage:3.0f}%|{bar}| t = {n:.4g} / {total:.4g} "
                                    "[{elapsed}<{remaining}{postfix}]")
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if isinstance(exc, KeyboardInterrupt):
            note = (f"ifmf: simulate (method={self.method!r}, N={self.N}) interrupted at t = {self.t_reached:.6g} "
                    f"of t_end = {self.t_end:g} after {self.n_spikes} spikes and {self.elapsed():.1f} s; "
                    "the partial run is discarded")
            if hasattr(exc, "add_note"):
                exc.add_note(note)
            log.info(note)
        self.close()
        return False

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    # ------------------------------------------------------------------------------ between chunks
    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self._start

    def update(self, t_reached: float, n_spikes: int, n_candidates: int, *, final: bool = False) -> None:
        """Called between chunks: record the progress, enforce the budget (not once the loop has
        ended: ``final=True``), move the bar."""
        self.n_updates += 1
        self.t_reached = float(t_reached)
        self.n_spikes = int(n_spikes)
        self.n_candidates = int(n_candidates)
        elapsed = self.elapsed()
        if not final and self.max_wall_time is not None and elapsed > self.max_wall_time:
            self.close()
            raise SimulationError(
                f"method={self.method!r}: the wall-clock budget max_wall_time = {self.max_wall_time:g} s is used "
                f"up at t = {self.t_reached:.6g} of t_end = {self.t_end:g} ({self.n_spikes} spikes, "
                f"{self.n_candidates} candidates, {self._rate_text()}); no partial result is returned. "
                "Raise max_wall_time or shorten t_end; if the rate is far above the expected one the network is "
                "running away (check the weights and the growth of the intensity)")
        self._advance(self.t_reached)

    def _rate_text(self) -> str:
        if self.t_reached > 0:
            return f"{self.n_spikes / (self.N * self.t_reached):.3g} spikes per neuron per unit time so far"
        return "no simulated time has passed"

    def _advance(self, t: float) -> None:
        bar = self._bar
        if bar is None:
            return
        t = min(max(t, 0.0), self.t_end)
        if t > bar.n:
            bar.update(t - bar.n)
        rate = self.n_spikes / (self.N * self.t_reached) if self.t_reached > 0 else math.nan
        bar.set_postfix_str(f"spikes={self.n_spikes}, rate={rate:.3g}", refresh=False)
