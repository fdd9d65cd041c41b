"""Reservoir computers with a closed-form ridge readout: echo state networks and NVAR.

- Echo state network (Jaeger 2001; the forecasting setup of Pathak et al., PRL 2018): a fixed
  random leaky-tanh recurrent reservoir; only the linear readout is fitted.
- Next-generation reservoir computer / NVAR (Gauthier, Bollt, Griffith & Barbosa, Nature Comm.
  2021): features are a constant, time-delayed copies of the input and their unique quadratic
  monomials; the readout predicts the increment `u_{t+1} - u_t`.

Both are physics-agnostic baselines of Gilpin's forecasting study. Training is one ridge
regression (`fit_readout`); `forecast` runs the fitted model in closed loop. Both implement the
dynamical-model contract as closed-loop maps: an ESN's state is the pair `(r, u)` of reservoir
and last input, an NVAR's the buffer of its last `window` samples.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._types import Array, ArrayLike, Float, Key
from .._validation import (
    check_dtype,
    check_finite,
    check_in_range,
    check_int,
    check_option,
    check_positive,
    check_shape,
    refuse_if,
)


def _check_fitted(model, where: str, x):
    """Refuse to run a model whose readout was never fitted (an all-zero `w_out` would forecast
    a constant or zeros); `equinox.error_if` when `w_out` is traced."""
    return refuse_if(
        x,
        ~jnp.any(model.w_out != 0),
        f"{where}: the readout w_out is all zero: the model was never fitted; call "
        f"model = dynlearn.recon.fit_readout(model, trajectory) first",
    )


def ridge_regression(
    features: Float[Array, "samples features"],
    targets: Float[Array, "samples targets"],
    ridge: float,
) -> Float[Array, "targets features"]:
    """Closed-form ridge regression `W = Yᵀ X (Xᵀ X + ridge I)⁻¹`.

    **Arguments:**

    - `features`: `X`, shape `(samples, features)`.
    - `targets`: `Y`, shape `(samples, targets)`.
    - `ridge`: the Tikhonov penalty (>= 0).

    **Returns:** `W` of shape `(targets, features)`, minimising `||X Wᵀ - Y||² + ridge ||W||²`.

    **Raises:** `ValueError` for arrays that are not 2-D, different numbers of rows, NaN or inf
    in the data, or a negative `ridge`; `TypeError` for complex or non-numeric data.
    """
    where = "ridge_regression"
    features = check_dtype(where, "features", features, cast_integers=True)
    check_shape(where, "features", features, ndim=2, meaning="(samples, features)")
    targets = check_dtype(where, "targets", targets, cast_integers=True)
    check_shape(where, "targets", targets, ndim=2, meaning="(samples, targets)")
    if targets.shape[0] != features.shape[0]:
        raise ValueError(
            f"{where}: features and targets must have the same number of samples (rows), got "
            f"features.shape={tuple(features.shape)} and targets.shape={tuple(targets.shape)}"
        )
    check_finite(where, "features", features)
    check_finite(where, "targets", targets)
    check_positive(where, "ridge", ridge, allow_zero=True)
    # Through the SVD of X rather than the normal equations: the error then scales with
    # cond(X), not cond(X)², which matters in float32 for nearly collinear features.
    u, s, vt = jnp.linalg.svd(features, full_matrices=False)
    gain = s / (s**2 + ridge)
    return ((targets.T @ u) * gain[None, :]) @ vt


class EchoStateNetwork(eqx.Module):
    """Echo state network `r_t = (1 - a) r_{t-1} + a tanh(W r_{t-1} + W_in u_t + b)`.

    The readout is `u_{t+1} ≈ W_out [1, u_t, r_t, r_t²]` (the squared units break the `r -> -r`
    symmetry of the tanh reservoir, as in Pathak et al.), or `W_out [1, u_t, r_t]` with
    `quadratic_readout=False`; only `W_out` is fitted.

    Two reservoir topologies, both with `density * reservoir_size` inputs per unit on average,
    Gaussian weights and the same spectral-radius rescaling:

    - `"random"`: an Erdős–Rényi mask (each entry non-zero with probability `density`), stored
      dense; the update is a dense matrix-vector product.
    - `"circulant"`: unit `i` receives from units `(i + s_k) mod N` for `K = round(density * N)`
      distinct random shifts `s_k`, each connection with its own Gaussian weight (a random-weight
      circulant graph; the simple cycle reservoir of Rodan & Tiňo is the case `K = 1`). Only the
      `K x N` non-zeros are stored and the update is `K` shifted element-wise products, about
      `1 / density` times less work than the dense product and free of gathers.

    **Arguments:**

    - `data_size`: dimension of the input/output series.
    - `reservoir_size`: number of reservoir units.
    - `spectral_radius`: largest |eigenvalue| of `W` after rescaling.
    - `input_scaling`: inputs weights are uniform in `[-input_scaling, input_scaling]`.
    - `leak_rate`: `a` in the update (1 is no leak).
    - `density`: fraction of non-zero entries of `W`.
    - `bias_scaling`: bias entries are uniform in `[-bias_scaling, bias_scaling]`.
    - `quadratic_readout`: include the squared reservoir units in the readout features.
    - `topology`: `"circulant"` (default) or `"random"` (see above). On Lorenz-63 both forecast
      equally well (benchmarks/recon.py); the circulant update is about twice as fast there.
    - `key`: PRNG key for the random weights.
    """

    w_in: Float[Array, "reservoir input"]
    weights: Float[Array, "rows reservoir"]
    bias: Float[Array, " reservoir"]
    w_out: Float[Array, "input features"]
    leak_rate: float = eqx.field(static=True)
    quadratic_readout: bool = eqx.field(static=True)
    shifts: tuple[int, ...] | None = eqx.field(static=True)

    def __init__(
        self,
        data_size: int,
        reservoir_size: int = 300,
        *,
        spectral_radius: float = 0.9,
        input_scaling: float = 0.5,
        leak_rate: float = 1.0,
        density: float = 0.1,
        bias_scaling: float = 0.2,
        quadratic_readout: bool = True,
        topology: str = "circulant",
        key: Key,
    ):
        where = "EchoStateNetwork"
        check_int(where, "data_size", data_size)
        check_int(where, "reservoir_size", reservoir_size)
        check_positive(where, "spectral_radius", spectral_radius, allow_zero=True)
        check_positive(where, "input_scaling", input_scaling, allow_zero=True)
        check_positive(where, "bias_scaling", bias_scaling, allow_zero=True)
        check_in_range(where, "leak_rate", leak_rate, 0.0, 1.0, open_low=True)
        check_in_range(where, "density", density, 0.0, 1.0, open_low=True)
        check_option(where, "topology", topology, ("random", "circulant"))
        if key is None:
            raise TypeError(f"{where}: key must be a PRNG key (jax.random.key(seed)), got None")
        k_in, k_w, k_mask, k_b = jax.random.split(key, 4)
        n = reservoir_size
        if topology == "random":
            w = jax.random.normal(k_w, (n, n))
            w = w * jax.random.bernoulli(k_mask, density, w.shape).astype(w.dtype)
            self.shifts = None
        else:
            n_shifts = max(1, round(density * n))
            shifts = np.sort(np.asarray(jax.random.choice(k_mask, n, (n_shifts,), replace=False)))
            self.shifts = tuple(int(s) for s in shifts)
            w = jax.random.normal(k_w, (n_shifts, n))
        self.weights = w
        radius = float(np.max(np.abs(np.linalg.eigvals(np.asarray(self.w, dtype=np.float64)))))
        self.weights = w * (spectral_radius / max(radius, 1e-12))
        self.w_in = jax.random.uniform(
            k_in, (reservoir_size, data_size), minval=-input_scaling, maxval=input_scaling
        )
        self.bias = jax.random.uniform(
            k_b, (reservoir_size,), minval=-bias_scaling, maxval=bias_scaling
        )
        n_features = 1 + data_size + (2 if quadratic_readout else 1) * reservoir_size
        self.w_out = jnp.zeros((data_size, n_features))
        self.leak_rate = float(leak_rate)
        self.quadratic_readout = quadratic_readout

    @property
    def data_size(self) -> int:
        return self.w_in.shape[1]

    @property
    def w(self) -> Float[Array, "reservoir reservoir"]:
        """The recurrent matrix `W` as a dense `(reservoir, reservoir)` array."""
        if self.shifts is None:
            return self.weights
        n = self.weights.shape[1]
        rows = jnp.broadcast_to(jnp.arange(n), self.weights.shape)
        cols = (rows + jnp.asarray(self.shifts)[:, None]) % n  # distinct shifts: no collisions
        return jnp.zeros((n, n), self.weights.dtype).at[rows, cols].set(self.weights)

    def recurrent(self, r: Float[Array, " reservoir"]) -> Float[Array, " reservoir"]:
        """The recurrent input `W r` (a dense product, or shifted products for `"circulant"`)."""
        if self.shifts is None:
            return self.weights @ r
        n = r.shape[0]
        rr = jnp.concatenate([r, r])
        out = self.weights[0] * rr[self.shifts[0] : self.shifts[0] + n]
        for k in range(1, len(self.shifts)):
            s = self.shifts[k]
            out = out + self.weights[k] * rr[s : s + n]
        return out

    def update(
        self, r: Float[Array, " reservoir"], u: Float[Array, " input"]
    ) -> Float[Array, " reservoir"]:
        """One reservoir update driven by the input `u`; returns the new reservoir state."""
        pre = self.recurrent(r) + self.w_in @ u + self.bias
        return (1 - self.leak_rate) * r + self.leak_rate * jnp.tanh(pre)

    def init_state(
        self, context: Float[ArrayLike, "time input"]
    ) -> tuple[Float[Array, " reservoir"], Float[Array, " input"]]:
        """The closed-loop state at the end of an observed `context` (the dynamical-model
        contract): the reservoir driven by the whole context from zero, and the last input.

        **Arguments:**

        - `context`: observed series `(time, input)`; long enough to wash out the zero initial
          reservoir state (about as many steps as for `fit_readout`'s washout).

        **Returns:** `(r, u)`: the reservoir state after `context[-1]`, and `context[-1]`.
        """
        context = check_dtype("EchoStateNetwork", "context", context, cast_integers=True)
        context = context.astype(self.weights.dtype)
        if context.ndim != 2 or context.shape[0] < 1 or context.shape[1] != self.data_size:
            raise ValueError(
                f"EchoStateNetwork: context must have shape (time >= 1, {self.data_size}), got "
                f"{tuple(context.shape)}"
            )
        context = _check_fitted(self, "EchoStateNetwork", context)
        return self(context)[-1], context[-1]

    def step(
        self, state: tuple[Float[Array, " reservoir"], Float[Array, " input"]]
    ) -> tuple[Float[Array, " reservoir"], Float[Array, " input"]]:
        """One closed-loop step: predict `u' = W_out [1, u, r, r²]`, then drive the reservoir
        with it, `(r, u) -> (update(r, u'), u')`."""
        r, u = state
        u_next = self.w_out @ self.features(r, u)
        return self.update(r, u_next), u_next

    def observe(
        self, state: tuple[Float[Array, " reservoir"], Float[Array, " input"]]
    ) -> Float[Array, " input"]:
        """The observation of a closed-loop state `(r, u)`: `u`."""
        return state[1]

    def features(self, r: Float[Array, " reservoir"], u: Float[Array, " input"]):
        """Readout features `[1, u, r, r²]` (or `[1, u, r]`)."""
        parts = [jnp.ones((1,), r.dtype), u, r]
        if self.quadratic_readout:
            parts.append(r**2)
        return jnp.concatenate(parts)

    def __call__(self, us: Float[Array, "time input"]) -> Float[Array, "time reservoir"]:
        """Reservoir states driven by the input series `us`, starting from zero."""
        # the input drive of every step in one matrix product; only W r stays in the loop
        drive = us @ self.w_in.T + self.bias[None, :]
        a = self.leak_rate

        def body(r, d):
            r = (1 - a) * r + a * jnp.tanh(self.recurrent(r) + d)
            return r, r

        r0 = jnp.zeros(self.w_in.shape[0], us.dtype)
        return jax.lax.scan(body, r0, drive)[1]

    def feature_series(self, us: Float[Array, "time input"]) -> Float[Array, "time features"]:
        """Feature row `t` is what the readout maps to `us[t + 1]`."""
        return jax.vmap(self.features)(self(us), us)

    def forecast(self, context: Float[ArrayLike, "time input"], n_steps: int):
        """Closed-loop forecast after driving the reservoir with `context`.

        **Arguments:**

        - `context`: observed series `(time, input)` ending at the forecast's initial condition.
        - `n_steps`: number of steps to predict (>= 1).

        **Returns:** `(n_steps, input)`; row `i` is the state `i + 1` steps after `context[-1]`.

        **Raises:** `ValueError` for a model whose readout was never fitted (`fit_readout`), a
        context of the wrong shape, or `n_steps < 1`.
        """
        n_steps = check_int("EchoStateNetwork.forecast", "n_steps", n_steps)
        jax.eval_shape(self.init_state, context)  # the context's checks, before compiling
        if not isinstance(self.w_out, jax.core.Tracer):
            _check_fitted(self, "EchoStateNetwork", self.w_out)
        return _closed_loop(self, context, n_steps)


class NVAR(eqx.Module):
    """Next-generation reservoir computer (nonlinear vector autoregression).

    With `k` delays spaced `skip` steps apart, the linear features at time `t` are
    `O_lin = [u_t, u_{t-skip}, ..., u_{t-(k-1) skip}]`; the full feature vector is
    `[1, O_lin, unique quadratic monomials of O_lin]` and the readout predicts
    `u_{t+1} - u_t`.

    **Arguments:**

    - `data_size`: dimension of the series.
    - `delays`: `k`, the number of delayed copies (>= 1).
    - `skip`: spacing of the delays in steps (>= 1).
    - `quadratic`: include the quadratic monomials (otherwise a linear VAR).
    """

    w_out: Float[Array, "input features"]
    data_size: int = eqx.field(static=True)
    delays: int = eqx.field(static=True)
    skip: int = eqx.field(static=True)
    quadratic: bool = eqx.field(static=True)

    def __init__(self, data_size: int, delays: int = 2, skip: int = 1, *, quadratic: bool = True):
        check_int("NVAR", "data_size", data_size)
        check_int("NVAR", "delays", delays)
        check_int("NVAR", "skip", skip)
        self.data_size = data_size
        self.delays = delays
        self.skip = skip
        self.quadratic = quadratic
        n_lin = data_size * delays
        n_quad = n_lin * (n_lin + 1) // 2 if quadratic else 0
        self.w_out = jnp.zeros((data_size, 1 + n_lin + n_quad))

    @property
    def window(self) -> int:
        """Number of past samples the features need: `(delays - 1) * skip + 1`."""
        return (self.delays - 1) * self.skip + 1

    def features(self, history: Float[Array, "window input"]) -> Float[Array, " features"]:
        """Features from the last `window` samples (`history[-1]` is the current one)."""
        lin = jnp.concatenate([history[-1 - j * self.skip] for j in range(self.delays)])
        parts = [jnp.ones((1,), history.dtype), lin]
        if self.quadratic:
            i, j = np.triu_indices(lin.shape[0])
            parts.append(lin[i] * lin[j])
        return jnp.concatenate(parts)

    def feature_series(self, us: Float[Array, "time input"]) -> Float[Array, "time2 features"]:
        """Feature rows for `t = window - 1, ..., time - 1` (row 0 predicts `us[window]`)."""
        w = self.window
        if us.shape[0] < w:
            raise ValueError(
                f"NVAR: series of length {us.shape[0]} is shorter than the delay window {w}"
            )
        idx = jnp.arange(us.shape[0] - w + 1)[:, None] + jnp.arange(w)[None, :]
        return jax.vmap(self.features)(us[idx])

    def init_state(self, context: Float[ArrayLike, "time input"]) -> Float[Array, "window input"]:
        """The state at the end of an observed `context` (the dynamical-model contract): its
        last `window` rows, the delay buffer the features read.

        **Arguments:**

        - `context`: observed series `(time, input)` with `time >= window`.

        **Returns:** `context[-window:]`.
        """
        context = check_dtype("NVAR", "context", context, cast_integers=True)
        context = context.astype(self.w_out.dtype)
        w = self.window
        if context.ndim != 2 or context.shape[1] != self.data_size:
            raise ValueError(
                f"NVAR: context must have shape (time >= {w}, {self.data_size}), got "
                f"{tuple(context.shape)}"
            )
        if context.shape[0] < w:
            raise ValueError(
                f"NVAR: context of length {context.shape[0]} is shorter than the delay window {w}"
            )
        return _check_fitted(self, "NVAR", context[-w:])

    def step(self, history: Float[Array, "window input"]) -> Float[Array, "window input"]:
        """One closed-loop step of the delay buffer: append `u' = u + W_out features(history)`
        and drop the oldest sample."""
        u_next = history[-1] + self.w_out @ self.features(history)
        return jnp.concatenate([history[1:], u_next[None]], axis=0)

    def observe(self, history: Float[Array, "window input"]) -> Float[Array, " input"]:
        """The observation of a delay buffer: its newest sample."""
        return history[-1]

    def forecast(self, context: Float[ArrayLike, "time input"], n_steps: int):
        """Closed-loop forecast from the last `window` samples of `context`.

        **Arguments:**

        - `context`: observed series ending at the forecast's initial condition.
        - `n_steps`: number of steps to predict (>= 1).

        **Returns:** `(n_steps, input)`; row `i` is the state `i + 1` steps after `context[-1]`.

        **Raises:** `ValueError` for a model whose readout was never fitted (`fit_readout`), a
        context of the wrong shape or shorter than the delay window, or `n_steps < 1`.
        """
        n_steps = check_int("NVAR.forecast", "n_steps", n_steps)
        jax.eval_shape(self.init_state, context)  # the context's checks, before compiling
        if not isinstance(self.w_out, jax.core.Tracer):
            _check_fitted(self, "NVAR", self.w_out)
        return _closed_loop(self, context, n_steps)


@eqx.filter_jit
def _closed_loop(model, context, n_steps: int):
    """`n_steps` closed-loop observations of an ESN or NVAR after `context`, in one scan."""

    def body(state, _):
        state = model.step(state)
        return state, model.observe(state)

    return jax.lax.scan(body, model.init_state(context), None, length=n_steps)[1]


def fit_readout(
    model: EchoStateNetwork | NVAR,
    trajectory: Float[ArrayLike, "..."],
    *,
    ridge: float = 1e-6,
    washout: int | None = None,
) -> EchoStateNetwork | NVAR:
    """Fit the linear readout of an ESN or NVAR by closed-form ridge regression.

    The model is driven by (teacher-forced with) `trajectory`; the first `washout` feature rows
    are discarded (reservoir transients); the readout maps each remaining feature row to the
    next sample (ESN) or to the increment to the next sample (NVAR).

    **Arguments:**

    - `model`: an `EchoStateNetwork` or `NVAR`.
    - `trajectory`: the training series `(time, input)`.
    - `ridge`: Tikhonov penalty of the readout.
    - `washout`: feature rows to drop first (default 100 for an ESN, 0 for NVAR).

    **Returns:** a copy of `model` with the fitted `w_out`.

    **Raises:** `ValueError` for a series of the wrong dimension, with NaN or inf, or too short
    for the washout and delays, a negative or NaN `ridge`, or a negative `washout`; `TypeError`
    for complex data or a model that is not an ESN or NVAR.
    """
    where = "fit_readout"
    if not isinstance(model, EchoStateNetwork | NVAR):
        raise TypeError(
            f"{where}: model must be an EchoStateNetwork or an NVAR, got {type(model).__name__}"
        )
    us = check_dtype(where, "trajectory", trajectory, cast_integers=True).astype(model.w_out.dtype)
    if us.ndim != 2 or us.shape[1] != model.data_size:
        raise ValueError(
            f"fit_readout: trajectory must have shape (time, {model.data_size}), got "
            f"{tuple(us.shape)}"
        )
    check_finite(where, "trajectory", us)
    check_positive(where, "ridge", ridge, allow_zero=True)
    if washout is None:
        washout = 100 if isinstance(model, EchoStateNetwork) else 0
    washout = check_int(where, "washout", washout, minimum=0)
    if isinstance(model, NVAR):
        first = model.window - 1
        targets_all = us[first + 1 :] - us[first:-1]
    else:
        first = 0
        targets_all = us[1:]
    if us.shape[0] - first - 1 - washout < 2:
        raise ValueError(
            f"fit_readout: trajectory of length {us.shape[0]} is too short for washout={washout}"
            f" and the model's delay window; need more than {first + washout + 2} samples"
        )
    feats, targets = _readout_data(model, us, targets_all, washout)
    feats = np.asarray(feats, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    # The normal equations are formed and solved in float64 on the host: reservoir features are
    # nearly collinear, and a float32 Gram matrix loses everything below ~1e-7 of its largest
    # eigenvalue, so typical ridge penalties (1e-8..1e-4) would be meaningless (measured: a
    # float32 Gram, even of centred features, turns a 4-Lyapunov-time ESN forecast of Lorenz-63
    # into 0.04). `feats.T @ feats` runs as one symmetric rank-k update (BLAS syrk).
    gram = feats.T @ feats
    gram[np.diag_indices_from(gram)] += ridge
    w_out = np.linalg.solve(gram, feats.T @ targets).T
    return eqx.tree_at(lambda m: m.w_out, model, jnp.asarray(w_out, model.w_out.dtype))


@eqx.filter_jit
def _readout_data(model, us, targets_all, washout):
    # teacher-forced feature rows and their targets, after the washout, in one compiled call
    return model.feature_series(us)[:-1][washout:], targets_all[washout:]
