"""Task functions used by the sweep tests (importable by worker processes: loky and Dask workers start
with the parent's ``sys.path``), and a check of the task itself.

``rate_task`` is a real, small task: an exact network simulation (solvers.particles.simulate) of a
named weight sequence with the standard neuron, summarised by the population rate in windows
(verification.observables) and the mean potential at ``t_end``.
"""
from __future__ import annotations

import time

import numpy as np

from solvers.graphons import build_weights
from solvers.model import NeuronModel
from solvers.particles import simulate
from verification.observables import moments, population_rate, window_edges
from verification.sweep import Task


def rate_task(task: Task, seed, params):
    W = build_weights(task.case, task.N)
    res = simulate(NeuronModel.standard(), W, params["t_end"], 0.0, seed)
    edges = window_edges(params["t_end"], params["window"])
    rate = population_rate(res, edges)
    rows = [{"t": float(0.5 * (a + b)), "metric": "rate", "value": float(v)}
            for a, b, v in zip(edges[:-1], edges[1:], rate)]
    m = moments(res, params["t_end"])
    rows.append({"metric": "mean_x", "value": float(m.mean[0]), "t": params["t_end"],
                 "lower": float(m.mean[0] - np.sqrt(m.variance[0])),
                 "upper": float(m.mean[0] + np.sqrt(m.variance[0]))})
    rows.append({"metric": "mean_rate", "value": float(res.mean_rate), "source": "network"})
    if params.get("sleep"):
        time.sleep(params["sleep"])
    return rows


def failing_task(task: Task, seed, params):
    if task.N == params["bad_N"] and task.rep == 1:
        raise ValueError("deliberate failure")
    return rate_task(task, seed, params)


def malformed_task(task: Task, seed, params):
    return [{"metric": "x", "value": float("nan")}]


def test_rate_task_rows():
    rows = rate_task(Task("ring", 20, 0), np.random.SeedSequence(1), {"t_end": 1.0, "window": 0.5})
    assert [r["metric"] for r in rows] == ["rate", "rate", "mean_x", "mean_rate"]
    assert rows[0]["t"] == 0.25 and rows[1]["t"] == 0.75
    # the mean of the windowed rates is the mean rate (equal windows)
    assert np.isclose(0.5 * (rows[0]["value"] + rows[1]["value"]), rows[3]["value"], rtol=1e-14)
