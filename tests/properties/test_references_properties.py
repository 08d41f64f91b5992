"""Property tests of the references: the constant-intensity law is a CDF with the right mean for
any parameters; phi_double is monotone and bounded for non-decreasing intensities."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from solvers import references as R
from solvers.model import Constant, Leaky, NeuronModel, ReLU, Sigmoid

STD = NeuronModel.standard()


@given(lam0=st.floats(0.0, 5.0), I0=st.floats(-2.0, 2.0), xr=st.floats(-1.0, 1.0), x0=st.floats(-2.0, 2.0),
       t=st.floats(0.0, 6.0), sigma=st.sampled_from([0.0, 0.2]), deg=st.floats(-1.0, 1.0))
def test_law_properties(lam0, I0, xr, x0, t, sigma, deg):
    law = R.constant_intensity_law(NeuronModel(Leaky(I0), Constant(lam0), reset=xr), t=t, initial=x0,
                                   sigma=sigma, degree=deg)
    xs = np.linspace(-12.0, 12.0, 4001)
    F = law.cdf(0.5, xs)
    assert np.all(np.diff(F) >= -1e-14)
    assert F.min() >= 0.0 and F.max() <= 1.0 + 1e-14
    assert F[0] == pytest.approx(0.0, abs=1e-12) and F[-1] == pytest.approx(1.0, abs=1e-12)
    # mean from the CDF: E X = 12 - int_{-12}^{12} F (support inside [-12, 12]); for a monotone F
    # the trapezoid rule errs by at most step * (F(12) - F(-12)) / 2 = 0.003
    m_num = 12.0 - np.trapezoid(F, xs)
    assert float(law.mean(0.5)) == pytest.approx(m_num, abs=3.1e-3)
    assert float(law.variance(0.5)) >= 0.0


def test_phi_double_monotone_and_bounded():
    """For a non-decreasing intensity Phi is non-decreasing in h and 0 <= Phi <= sup f."""
    hs = np.linspace(-6.0, 6.0, 241)
    for model in (STD, NeuronModel(Leaky(1.0), ReLU(1.0, 0.5, 2.0)), NeuronModel(Leaky(0.2), Sigmoid(), reset=1.0)):
        P, Pp = R.phi_double(model, hs)
        assert np.all(np.diff(P) >= -1e-12 * P[1:])
        assert np.all(Pp >= -1e-12)
        assert np.all((P >= 0) & (P <= model.intensity.sup * (1 + 1e-13)))
