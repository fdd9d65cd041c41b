"""`dynlearn quickstart`: learn Lorenz-63 with a neural ODE, forecast, and plot.

The main job of the package in about two minutes on a CPU: simulate Lorenz-63, fit a neural ODE
vector field on short trajectory windows with `dynlearn.train.fit` (a progress bar shows it),
forecast from held-out initial conditions, report the valid prediction time in Lyapunov times and
the test error, and write a figure of the true and learned attractors.
"""

from __future__ import annotations

import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax


def _simulate_lorenz(key, n_traj: int, n_points: int, dt: float):
    """Lorenz-63 trajectories from random points on the attractor (dynlearn.systems)."""
    from . import systems

    return systems.trajectories(systems.get("Lorenz"), n_traj, n_points, key=key, dt=dt)


class LearnedVectorField(eqx.Module):
    """An MLP vector field f(t, y) on standardized coordinates."""

    mlp: eqx.nn.MLP

    def __init__(self, dim: int, width: int, depth: int, *, key):
        self.mlp = eqx.nn.MLP(dim, dim, width, depth, activation=jax.nn.gelu, key=key)

    def __call__(self, t, y, args):
        return self.mlp(y)


def quickstart(steps: int | None = None, out: str = "dynlearn-out", seed: int = 0) -> dict:
    """Run the quickstart; returns the measured figures as a dict (also printed).

    **Arguments:**

    - `steps`: training steps (default 6000).
    - `out`: folder for `quickstart.png`.
    - `seed`: random seed.

    The figure is drawn with `dynlearn.plot` on a figure made without pyplot: the caller's
    matplotlib backend and rcParams stay as they were. JAX's persistent compilation cache is
    turned on (per-user folder; `DYNLEARN_NO_COMPILATION_CACHE=1` turns it off).
    """
    from matplotlib.figure import Figure

    from . import plot
    from ._cache import enable_compilation_cache
    from .metrics import valid_prediction_time
    from .nde import FixedGrid, NeuralODE
    from .train import fit

    steps = 6000 if steps is None else steps
    dt = 0.02
    t0 = time.perf_counter()
    enable_compilation_cache()
    key = jax.random.key(seed)
    k_train, k_test, k_model, k_fit = jax.random.split(key, 4)
    print("dynlearn quickstart: learning Lorenz-63 with a neural ODE")
    train = np.asarray(_simulate_lorenz(k_train, 8, 2500, dt))
    test = np.asarray(_simulate_lorenz(k_test, 8, 1200, dt))
    mean, std = train.reshape(-1, 3).mean(0), train.reshape(-1, 3).std(0)
    train_n, test_n = (train - mean) / std, (test - mean) / std

    window = 12
    starts = np.arange(0, train_n.shape[1] - window, 2)
    windows = np.stack([train_n[:, s : s + window + 1] for s in starts], axis=1).reshape(
        -1, window + 1, 3
    )
    print(
        f"  data: {train.shape[0]} training trajectories, {windows.shape[0]} windows of "
        f"{window} steps (dt={dt}); {test.shape[0]} held-out test trajectories"
    )

    # throw=False: no run-time checks inside the solve, so the compiled training step has no
    # host callbacks and JAX's persistent compilation cache keeps it for the next run; a
    # blow-up still stops training through fit's non-finite-loss guard.
    model = NeuralODE(
        LearnedVectorField(3, 64, 2, key=k_model), solver=FixedGrid("rk4"), throw=False
    )
    ts_window = jnp.arange(window + 1, dtype=jnp.float32) * dt

    def loss(model, batch, *, key):
        pred = jax.vmap(lambda w: model(ts_window, w[0]))(batch)
        return jnp.mean((pred - batch) ** 2)

    schedule = optax.cosine_onecycle_schedule(steps, 3e-3, pct_start=0.1)
    model, history = fit(
        model,
        loss,
        jnp.asarray(windows),
        optax.adamw(schedule, weight_decay=1e-5),
        steps=steps,
        batch_size=128,
        key=k_fit,
        steps_per_dispatch=50,
    )

    # Forecast from held-out initial conditions.
    ts_test = jnp.arange(test_n.shape[1], dtype=jnp.float32) * dt
    preds = eqx.filter_jit(jax.vmap(lambda y0: model(ts_test, y0)))(jnp.asarray(test_n[:, 0]))
    preds = np.asarray(preds) * std + mean
    from .systems import get as get_system

    # the zoo's reference exponent (dysts' maximum_lyapunov_estimated), as the benchmark uses
    max_lyapunov = get_system("Lorenz").max_lyapunov
    lyap_time = 1.0 / max_lyapunov
    scale_per_dim = train.reshape(-1, 3).std(0)
    vpts = np.array(
        [
            float(
                valid_prediction_time(
                    t[1:],
                    p[1:],
                    dt=dt,
                    max_lyapunov=max_lyapunov,
                    metric="nrmse",
                    threshold=0.5,
                    scale=scale_per_dim,
                )
            )
            for t, p in zip(test, preds)
        ]
    )
    vpts_smape = np.array(
        [
            float(valid_prediction_time(t[1:], p[1:], dt=dt, max_lyapunov=max_lyapunov))
            for t, p in zip(test, preds)
        ]
    )
    one_step = int(round(0.5 * lyap_time / dt))
    test_err = float(np.sqrt(np.mean((preds[:, : one_step + 1] - test[:, : one_step + 1]) ** 2)))
    scale = float(np.sqrt(np.mean(np.var(test.reshape(-1, 3), axis=0))))

    # Long free run of the learned model for the attractor figure.
    ts_long = jnp.arange(5001, dtype=jnp.float32) * dt
    long_run = np.asarray(eqx.filter_jit(model)(ts_long, jnp.asarray(test_n[0, 0])))
    long_run = long_run * std + mean
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    # A Figure made without pyplot: no backend is chosen or switched for the caller's session.
    fig = Figure(figsize=(13, 4.4), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[2.0, 1.3])
    plot.attractor(
        train[0, :2500], {"learned neural ODE (free run)": long_run}, true_title="true Lorenz-63",
        fig=left,
    )
    plot.forecast(
        test[0],
        {"neural ODE": preds[0]},
        dt=dt,
        lyapunov_time=lyap_time,
        valid_time=float(vpts[0]),
        components=[0],
        fig=right,
    )
    right.suptitle("forecast from a held-out initial condition", fontsize="medium")
    figure = out_dir / "quickstart.png"
    fig.savefig(figure, dpi=120)

    result = {
        "final_train_loss": history[-1]["loss"],
        "valid_prediction_time_median": float(np.median(vpts)),
        "valid_prediction_time_mean": float(np.mean(vpts)),
        "valid_prediction_time_smape_median": float(np.median(vpts_smape)),
        "test_rmse_half_lyapunov_time": test_err,
        "test_nrmse_half_lyapunov_time": test_err / scale,
        "seconds": time.perf_counter() - t0,
        "figure": str(figure),
    }
    print(f"  final training loss (standardized MSE): {result['final_train_loss']:.3g}")
    vpt = result["valid_prediction_time_median"]
    mean_vpt = result["valid_prediction_time_mean"]
    print(
        f"  valid prediction time (NRMSE < 0.5): median {vpt:.2f} Lyapunov times"
        f" (mean {mean_vpt:.2f}) over {len(vpts)} held-out initial conditions"
    )
    print(
        f"  valid prediction time (sMAPE < 30, Gilpin's benchmark): median "
        f"{result['valid_prediction_time_smape_median']:.2f} Lyapunov times"
    )
    print(
        f"  test error over the first 0.5 Lyapunov times: RMSE {test_err:.3g}"
        f" (NRMSE {test_err / scale:.3g})"
    )
    print(f"  figure: {figure}   total time: {result['seconds']:.0f} s")
    return result
