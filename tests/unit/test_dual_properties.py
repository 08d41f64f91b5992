"""Property: the frozen dual is the exact adjoint of the forward Lagrangian step, for any model,
kernel, initial datum, step and terminal function (hypothesis draws them).  The oracle is the forward
solver's own discrete measures: ``<phi(t_n), mu_n>`` must not depend on ``n`` beyond rounding."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.dual import solve_backward
from solvers.graphons import step_kernel
from solvers.meanfield import Dirac, solve
from solvers.model import Leaky, NeuronModel, Sigmoid

reals = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False)


@settings(max_examples=12, deadline=None)
@given(values=st.lists(st.floats(min_value=-1.0, max_value=2.0), min_size=4, max_size=4),
       I0=st.floats(min_value=0.5, max_value=2.0), lam=st.floats(min_value=0.5, max_value=12.0),
       beta=st.floats(min_value=0.5, max_value=6.0), x0=st.lists(st.floats(min_value=-1.0, max_value=2.5),
                                                               min_size=4, max_size=4),
       steps=st.sampled_from([10, 25, 40]), a=reals, b=st.floats(min_value=0.2, max_value=3.0), c=reals,
       rule=st.sampled_from(["hermite", "simpson"]))
def test_frozen_duality_to_rounding_for_any_problem(values, I0, lam, beta, x0, steps, a, b, c, rule):
    model = NeuronModel(Leaky(I0), Sigmoid(lam, beta, 1.0))
    W = np.array(values).reshape(2, 2) / 2.0  # a 2 x 2 step kernel w = 2 W
    T = 1.0
    dt = T / steps
    fw = solve(model, step_kernel(W), T, Dirac(np.array(x0)), n_xi=4, dt=dt, merge_tol=0.0, drop_tol=0.0,
               save_times=np.linspace(0, T, steps + 1), survival_rule=rule)

    def phi_T(xi, x):
        return a * np.sin(b * x) + c * x * x * xi

    d = solve_backward(fw, phi_T, linearised=False)
    vals = np.array([d.pairing(t, fw) for t in fw.save_times])
    scale = 1.0 + abs(a) + abs(c) * 40.0
    assert np.max(np.abs(vals - vals[-1])) < 1e-13 * scale * steps, vals - vals[-1]
