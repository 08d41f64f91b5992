"""The library fixes behind issue 11's raw tracebacks and contradicting summaries, tested at the library
level (the command-line side is in ``test_cli_commands.py`` and ``test_cli_installed.py``):
load_weights on a folder, a text file named ``.npy``, a pickled file; a non-finite kernel in
``solve``; the one registry of named sequences; the check-weights summary; dtype and point checks
found by the entry-point fuzz; the config loader's path checks."""
from __future__ import annotations

import numpy as np
import pytest

from solvers.errors import InvalidArgumentError
from solvers.graphons import (
    KERNELS,
    WEIGHT_SEQUENCES,
    FunctionKernel,
    build_weights,
    coupling_matrix,
    hub,
    load_weights,
    named_kernel,
    ring,
    sequence_info,
    skew,
)
from solvers.meanfield import solve
from solvers.model import NeuronModel
from solvers.references import spatial_stationary
from verification.config import ConfigError, load_config
from verification.hypotheses import KAPPA_WARNING, check


# -------------------------------------------------------------------------------------- load_weights
def test_load_weights_on_a_folder_lists_what_is_inside(tmp_path):
    np.save(tmp_path / "W_10.npy", ring().weights(10))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InvalidArgumentError, match="is a folder, not a weight file") as exc:
        load_weights(tmp_path)
    assert "W_10.npy" in str(exc.value) and "notes.txt" not in str(exc.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidArgumentError, match="holds none"):
        load_weights(tmp_path / "empty")


def test_load_weights_text_named_npy_and_pickles(tmp_path):
    (tmp_path / "t.npy").write_text("0,1\n1,0\n")
    with pytest.raises(InvalidArgumentError) as exc:
        load_weights(tmp_path / "t.npy")
    msg = str(exc.value)
    assert "not a NumPy .npy file" in msg and "looks like text" in msg and "rename it to .csv" in msg
    assert "pickle" not in msg.lower()  # numpy's "contains pickled data" message is gone
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(InvalidArgumentError, match="holds Python objects.*never unpickled"):
        load_weights(tmp_path / "o.npy")
    (tmp_path / "z.npz").write_text("0,1\n")
    with pytest.raises(InvalidArgumentError, match=r"not a NumPy .npz \(zip\) archive"):
        load_weights(tmp_path / "z.npz")
    (tmp_path / "e.npy").write_bytes(b"")
    with pytest.raises(InvalidArgumentError, match="it is empty"):
        load_weights(tmp_path / "e.npy")
    for bad in (None, 3, "", b""):
        with pytest.raises(InvalidArgumentError, match="'path'"):
            load_weights(bad)


# ---------------------------------------------------------------------------------- non-finite kernel
def _nan_half(x, z):
    return np.where(np.asarray(x) > 0.5, np.nan, 1.0) + 0 * np.asarray(z)


@pytest.mark.parametrize("method", ["lagrangian", "upwind"])
def test_a_nan_kernel_is_named_as_the_cause(method):
    """Issue 11: the Lagrangian scheme said "reduce dt" and upwind raised a raw ValueError; the kernel
    is checked when it is discretised, and the error names it (no time step can fix it)."""
    with pytest.raises(InvalidArgumentError) as exc:
        solve(NeuronModel.standard(), FunctionKernel(func=_nan_half), 1.0, 0.0, n_xi=8, method=method)
    msg = str(exc.value)
    assert "argument 'kernel'" in msg and "the kernel itself is not finite" in msg and "nan" in msg
    assert "(xi, zeta) = (0.5625, 0.0625)" in msg and "reduce dt" not in msg
    with pytest.raises(InvalidArgumentError, match="the kernel itself is not finite"):
        spatial_stationary(NeuronModel.standard(), FunctionKernel(func=_nan_half), 4, check_pde_stability=False)


def test_kernel_values_of_the_wrong_shape_or_type_are_the_kernels_error():
    with pytest.raises(InvalidArgumentError, match="returned values of shape|not real numbers"):
        coupling_matrix(FunctionKernel(func=lambda x, z: np.ones(3)), 4)
    with pytest.raises(InvalidArgumentError, match="not real numbers of that shape"):
        FunctionKernel(func=lambda x, z: "w")(0.5, 0.5)
    for bad in ("0.5", None, np.nan, [0.1, np.inf], np.random.SeedSequence(1)):
        with pytest.raises(InvalidArgumentError, match="'xi'"):
            skew().degree(bad)
        with pytest.raises(InvalidArgumentError, match="'zeta'"):
            ring()(0.5, bad)


def test_weight_dtypes_are_checked():
    for bad in ("x", "0{", object, np.int64, 3):
        with pytest.raises(InvalidArgumentError, match="'dtype'"):
            hub(4, dtype=bad)
        with pytest.raises(InvalidArgumentError, match="'dtype'"):
            ring().weights(4, dtype=bad)
    assert hub(4, dtype="float32").dtype == np.float32
    assert build_weights("skew", 3, dtype=np.float32).dtype == np.float32


# ---------------------------------------------------------------------------------- the registry
def test_one_registry_of_named_sequences():
    assert len(WEIGHT_SEQUENCES) == 11
    assert {n for n, s in WEIGHT_SEQUENCES.items() if s.kernel} == set(KERNELS)
    for name, seq in WEIGHT_SEQUENCES.items():
        assert seq.name == name and seq.summary
        W = build_weights(name, 6, seed=1 if seq.random else None)
        assert W.shape == (6, 6) and (seq.sparse == (not isinstance(W, np.ndarray)))
        if seq.kernel:
            np.testing.assert_array_equal(W, named_kernel(name).weights(6))
    assert sequence_info("Two_Block").name == "two-block"
    with pytest.raises(InvalidArgumentError, match="unknown weight sequence"):
        sequence_info("nope")
    # peak memory estimates: the resident matrix at least, temporaries for the random builders
    assert WEIGHT_SEQUENCES["ring"].peak_bytes(1000) == 8 * 10**6
    assert WEIGHT_SEQUENCES["skew"].peak_bytes(1000, dtype=np.float32) == 4 * 10**6
    assert WEIGHT_SEQUENCES["ring"].peak_bytes(1000, dtype=np.float32) == 12 * 10**6  # built in float64 first
    assert WEIGHT_SEQUENCES["w-random"].peak_bytes(1000) > 5 * 8 * 10**6
    assert WEIGHT_SEQUENCES["erdos-renyi"].peak_bytes(10**4) < 10**8  # N^{3/2} entries, not N^2


def test_build_weights_refuses_parameters_a_builder_does_not_take():
    with pytest.raises(InvalidArgumentError, match="wrong parameters for sequence 'hub'"):
        build_weights("hub", 6, J=2.0)  # silently ignored before
    with pytest.raises(InvalidArgumentError, match="wrong parameters for sequence 'checkerboard'"):
        build_weights("checkerboard", 6, bogus=1)  # a raw TypeError before
    np.testing.assert_array_equal(build_weights("checkerboard", 6, J=2.0), 2 * build_weights("checkerboard", 6))


# ------------------------------------------------------------------------------ hypotheses summary
def test_summary_never_claims_more_than_the_verdicts():
    model = NeuronModel.standard()
    one = check(model, ring().weights(20))
    assert one.verdict("O(1/N) weights").status == "cannot tell" and not one.warnings
    assert one.summary().startswith("not established: cannot tell for O(1/N) weights")
    big = check(model, build_weights("constant", 20) * (KAPPA_WARNING * 1.01))
    v = big.verdict("O(1/N) weights")
    assert v.status == "cannot tell" and "kappa_N = 101 > 100" in v.warning
    assert big.summary().startswith("warning: O(1/N) weights: kappa_N = 101") and big.warnings
    at = check(model, build_weights("constant", 20) * KAPPA_WARNING)  # not above the threshold
    assert not at.warnings
    seq = check(model, [ring().weights(n) for n in (20, 40, 80)])
    assert seq.summary() == "no hypothesis violated (all 5 hold)"
    bad = check(model, [hub(n) for n in (20, 40, 80)])
    assert bad.summary().startswith("violated: O(1/N) weights; holds:")
    flat_large = check(model, [build_weights("constant", n) * 1e8 for n in (20, 40, 80)])
    assert flat_large.verdict("O(1/N) weights").status == "holds" and not flat_large.warnings  # bounded: holds


# ------------------------------------------------------------------------------------------ config
def test_load_config_path_errors(tmp_path):
    from verification.commands.solve import SCHEMA

    for bad in (None, 3, object(), "a\x00b", str(tmp_path), str(tmp_path / "missing.toml")):
        with pytest.raises(ConfigError, match="Fix:"):
            load_config(bad, SCHEMA)
