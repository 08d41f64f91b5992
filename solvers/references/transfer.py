"""Transfer function ``Phi(h) = 1 / E[ISI]`` of one neuron with constant input ``h``, in mpmath.

:func:`isi_moments` and :func:`phi` run the age quadrature (:mod:`.age_quadrature`); :func:`phi`
also runs the independent space quadrature (:mod:`.space_quadrature`) and raises
:class:`~solvers.errors.ConvergenceError` when the two disagree.  :func:`phi_prime` is a
five-point central difference of the age quadrature.  Work is done at ``dps + 15`` digits.
"""
from __future__ import annotations

import mpmath

from solvers.errors import ConvergenceError
from solvers.model import NeuronModel
from solvers.validation import check_choice, check_instance, check_int

from . import age_quadrature as _age
from . import space_quadrature as _space
from ._common import _GUARD_DPS, _as_mpf, _digits

__all__ = ["isi_moments", "phi", "phi_prime"]

mp = mpmath.mp



def isi_moments(model: NeuronModel, h, *, dps: int = 30, method: str = "age") -> tuple:
    """``(E[ISI], int_0^inf x(s) S(s) ds)`` of one neuron with constant input ``h``.

    Parameters
    ----------
    model : NeuronModel
    h : float or mpf
        Constant input.
    dps : int, keyword, default 30
        Requested significant digits (work is done at ``dps + 15``).
    method : {"age", "space"}, keyword, default "age"
        Which quadrature (:mod:`.age_quadrature` or :mod:`.space_quadrature`).

    Returns
    -------
    (mpf, mpf)
        ``E[ISI]`` (``inf`` when the neuron stops firing) and the first moment integral, so that
        the stationary mean is the ratio of the two.
    """
    model = check_instance("model", model, NeuronModel, "pass e.g. NeuronModel.standard()")
    dps = check_int("dps", dps, 15, "pass e.g. dps=30", maximum=200)
    method = check_choice("method", method, ("age", "space"))
    with mp.workdps(dps + _GUARD_DPS):
        hh = _as_mpf("h", h)
        q = _age.isi_integrals(model, hh) if method == "age" else _space.isi_integrals(model, hh)
        return q.T, q.M


def phi(model: NeuronModel, h, *, dps: int = 30, check: bool = True):
    """Transfer function ``Phi(h) = 1 / E[ISI]`` of one neuron with constant input ``h``.

    Parameters
    ----------
    model : NeuronModel
    h : float or mpf
    dps : int, keyword, default 30
        Requested significant digits.
    check : bool, keyword, default True
        Also compute the independent space quadrature and raise
        :class:`~solvers.errors.ConvergenceError` if they differ by more than ``10^-(dps-5)``
        (relative).

    Returns
    -------
    mpf
        ``Phi(h)`` (0 when the neuron stops firing), by the age quadrature.
    """
    model = check_instance("model", model, NeuronModel, "pass e.g. NeuronModel.standard()")
    dps = check_int("dps", dps, 15, "pass e.g. dps=30", maximum=200)
    with mp.workdps(dps + _GUARD_DPS):
        hh = _as_mpf("h", h)
        qa = _age.isi_integrals(model, hh)
        ra = 1 / qa.T if qa.T != mpmath.inf else mpmath.mpf(0)
        if check:
            qs = _space.isi_integrals(model, hh)
            rs = 1 / qs.T if qs.T != mpmath.inf else mpmath.mpf(0)
            if _digits(ra, rs) < dps - 5:
                raise ConvergenceError(f"Phi({mpmath.nstr(hh, 12)}): age quadrature {mpmath.nstr(ra, dps)} and space "
                                       f"quadrature {mpmath.nstr(rs, dps)} agree to fewer than {dps - 5} digits")
        return ra


def phi_prime(model: NeuronModel, h, *, dps: int = 30):
    """Derivative ``Phi'(h)`` by the five-point central difference of the age quadrature with step
    ``eta = 10^-(dps+3)/5`` (truncation ``O(eta^4)``, rounding ``O(10^-(dps+3)/eta)``): about
    ``0.8 dps`` correct digits for smooth ``f`` (at a ReLU kink, the central difference).

    Returns
    -------
    mpf
    """
    model = check_instance("model", model, NeuronModel, "pass e.g. NeuronModel.standard()")
    dps = check_int("dps", dps, 15, "pass e.g. dps=30", maximum=200)
    with mp.workdps(dps + _GUARD_DPS):
        hh = _as_mpf("h", h)

        def g(y):
            q = _age.isi_integrals(model, y)
            return 1 / q.T if q.T != mpmath.inf else mpmath.mpf(0)

        eta = mpmath.mpf(10) ** (-(dps + 3) / mpmath.mpf(5))
        return (8 * (g(hh + eta) - g(hh - eta)) - (g(hh + 2 * eta) - g(hh - 2 * eta))) / (12 * eta)


