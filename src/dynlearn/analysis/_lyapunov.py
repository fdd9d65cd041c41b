"""Lyapunov exponents by the QR (Benettin) method with Jacobian-vector products.

Benettin, Galgani, Giorgilli & Strelcyn, "Lyapunov characteristic exponents for smooth
dynamical systems ... Part 1/2", Meccanica 15 (1980); the QR formulation of Eckmann & Ruelle,
"Ergodic theory of chaos and strange attractors", Rev. Mod. Phys. 57 (1985).

A set of `k` tangent vectors is carried along the orbit and re-orthonormalised by a QR
decomposition; the exponents are the time averages of `log |diag R|`. Tangent vectors are
pushed forward with `jax.linearize` of the step (no finite differences). For flows the step is
one classical RK4 step, and the linearisation of an explicit Runge–Kutta step is exactly the same
RK4 step applied to the variational equations, so state and tangents are integrated together.
Integration, tangent propagation and QR are fused in a single `lax.scan` under `jit`.
"""

from __future__ import annotations

import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from .._dynamics import (
    as_dynamical_model,
    is_dynamical_model,
    resolve_dynamics,
    sampling_step,
)
from .._types import Array, ArrayLike, Float, Key, Scalar, ScalarLike
from .._validation import check_dtype, check_finite, refuse_if
from ..kernels._butcher import RK4
from ..kernels._rk_xla import rk_step


def _signed_qr(q: Array) -> tuple[Array, Array]:
    """QR with the log of the absolute diagonal of R (the local stretching factors)."""
    q, r = jnp.linalg.qr(q)
    return q, jnp.log(jnp.abs(jnp.diagonal(r)))


def _real_leaves(tree) -> list:
    # each complex leaf becomes a real array with a leading (real, imaginary) axis of length 2
    return [
        jnp.stack([jnp.real(leaf), jnp.imag(leaf)]) if jnp.iscomplexobj(leaf) else leaf
        for leaf in jax.tree_util.tree_leaves(tree)
    ]


def _real_coordinates(y0):
    """Map a PyTree state (real or complex leaves) to a flat real vector and back.

    Complex entries count as two real coordinates (real and imaginary parts), so a complex
    diagonal map `h -> a h` contributes the exponent `log|a|` twice. Real and complex leaves may
    be mixed (a closed-loop SSM state holds both).
    """
    leaves, treedef = jax.tree_util.tree_flatten(y0)
    is_complex = [jnp.iscomplexobj(leaf) for leaf in leaves]
    flat, unravel = ravel_pytree(_real_leaves(y0))

    def from_real(v):
        parts = unravel(v)
        return jax.tree_util.tree_unflatten(
            treedef,
            [jax.lax.complex(p[0], p[1]) if c else p for p, c in zip(parts, is_complex)],
        )

    return flat, from_real


def _to_real(tree):
    return ravel_pytree(_real_leaves(tree))[0]


@eqx.filter_jit
def _benettin(
    fn,
    kind: str,
    y0: Any,
    q0: Array,
    t0: Array,
    dt: Array,
    args: Any,
    inputs: Any,
    n_transient: int,
    n_blocks: int,
    qr_every: int,
) -> Array:
    y0, from_real = _real_coordinates(y0)
    if kind == "flow":

        def real_field(t, y, args_):
            return _to_real(fn(t, from_real(y), args_))

        def advance_tangent(state, q):
            t, y = state

            def rk4(y_):  # the kernels' RK4 step (the package's one RK4)
                return rk_step(RK4, lambda s, z: real_field(s, z, args), t, dt, y_)[0]

            y_next, push = jax.linearize(rk4, y)
            return (t + dt, y_next), jax.vmap(push, in_axes=1, out_axes=1)(q)

        state = (t0, y0)
    else:

        def real_step(y, i):
            if inputs is None:
                return _to_real(fn(from_real(y)))
            u = jax.tree_util.tree_map(lambda a: a[i], inputs)
            return _to_real(fn(from_real(y), u))

        def advance_tangent(state, q):
            i, y = state
            y_next, push = jax.linearize(lambda y_: real_step(y_, i), y)
            return (i + 1, y_next), jax.vmap(push, in_axes=1, out_axes=1)(q)

        state = (jnp.asarray(0, jnp.int32), y0)

    def block(carry, _):
        state, q = carry
        state, q = jax.lax.fori_loop(0, qr_every, lambda _, c: advance_tangent(*c), (state, q))
        q, logs = _signed_qr(q)
        return (state, q), logs

    def transient_step(_, carry):
        state, q = advance_tangent(*carry)
        return state, _signed_qr(q)[0]

    # The transient brings the state onto the attractor and aligns the tangent basis with the
    # most expanding directions; its stretching factors are discarded.
    carry = jax.lax.fori_loop(0, n_transient, transient_step, (state, q0))

    # Sum per chunk first, then across chunks, so long runs in float32 keep their precision.
    chunk = max(1, int(math.isqrt(n_blocks)))
    n_chunks, rest = divmod(n_blocks, chunk)

    def chunk_sum(carry, _):
        carry, logs = jax.lax.scan(block, carry, None, length=chunk)
        return carry, jnp.sum(logs, axis=0)

    carry, sums = jax.lax.scan(chunk_sum, carry, None, length=n_chunks)
    total = jnp.sum(sums, axis=0)
    if rest:
        carry, logs = jax.lax.scan(block, carry, None, length=rest)
        total = total + jnp.sum(logs, axis=0)
    # -inf is legitimate (a singular Jacobian contracts a direction to nothing); NaN or +inf
    # means the orbit or the tangents overflowed.
    return eqx.error_if(
        total,
        jnp.any(jnp.isnan(total) | (total == jnp.inf)),
        "lyapunov_spectrum: the orbit or its tangent vectors became non-finite. The system may "
        "diverge from y0 (check the model, or start on its attractor), the RK4 step may be "
        "unstable (reduce dt), or the tangents overflowed between QR steps (reduce qr_every)",
    )


def _check_positive_int(value, name: str, caller: str, *, allow_zero: bool = False) -> int:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{caller}: {name} must be an integer {bound}, got {value!r}")
    return int(value)


def _as_inexact(x):
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.inexact):
        return x
    return x.astype(jnp.result_type(float))


def _initial_basis(n: int, k: int, key: Key | None, dtype) -> Array:
    if key is None:
        key = jax.random.key(0)
    q, _ = jnp.linalg.qr(jax.random.normal(key, (n, k), dtype=dtype))
    return q


def lyapunov_spectrum(
    system: Any,
    y0: Any = None,
    *,
    n_steps: int = 1000,
    dt: ScalarLike | None = None,
    k: int | None = None,
    kind: str | None = None,
    args: Any = None,
    t0: ScalarLike = 0.0,
    inputs: Any = None,
    transient: int = 0,
    qr_every: int = 1,
    key: Key | None = None,
) -> Float[Array, " k"]:
    """Lyapunov exponents of a flow or a map by the QR (Benettin) method.

    Tangent vectors are pushed forward with `jax.linearize` of the step (exact derivatives, no
    finite differences) and re-orthonormalised by QR; integration, tangent propagation and QR
    run fused in one jit-compiled `lax.scan`. Flows are integrated with fixed-step classical RK4;
    its linearisation is RK4 applied to the variational equations.

    `system` is anything that offers the flow or map interface (see
    [`dynlearn.analysis.Flow`][] and [`dynlearn.analysis.Map`][]): a callable
    `vector_field(t, y, args)` or `step(x)`, or an object with a `.vector_field` or `.step`
    attribute, such as a `dynlearn.systems` system, a trained neural ODE or a PLRNN.

    A model of the dynamical-model contract ([`dynlearn.DynamicalModel`][]: every zoo system
    and model family) can be given observed context instead of a state,
    `lyapunov_spectrum(model, context)`: the exponents are those of the model's own state space
    (a reservoir's, a PLRNN's or a Koopman model's latent state; for a recurrent sequence model
    such as a `dynlearn.ssm.SequenceModel`, the state of its closed loop) from
    `model.init_state(context)`, by default the `dim` largest for a context of dimension `dim`
    (a reservoir or an SSM stack has hundreds of states), per unit time where the model knows
    its sampling step (`model.dt`, or `dt=`; a flow's RK4 step defaults to it).

    **Arguments:**

    - `system`: the flow or map (see above).
    - `y0`: initial state: an array of shape `(state,)`, or any array or PyTree of arrays, real
      or complex, such as an SSM's hidden state (default: `system.y0`, as on `dynlearn.systems`
      systems). It is flattened to real coordinates, a complex entry counting as two. It need
      not be on the attractor: use `transient`. For a model with `init_state`, a 2-D array is
      observed context `(time, dim)`, and the state is `system.init_state(y0)`.
    - `n_steps`: number of averaged steps (RK4 steps of size `dt` for a flow, iterations for a
      map); default 1000, enough for a first look. The averaging time of a flow is
      `n_steps * dt`.
    - `dt`: RK4 step size; required for flows (default: the model's own `dt` where it has one;
      for a `dynlearn.systems` flow, whose `dt` is a fine sampling step, `system.period / 100`
      is a reasonable choice). For a map that is a model of the contract, its sampling step
      (default: its own `dt`, if any): the exponents are then per unit time. Not allowed for a
      bare step function.
    - `k`: number of exponents, the `k` largest (default: one per observed coordinate when
      observed context is given, else all, one per real coordinate of the state).
    - `kind`: `"flow"`, `"map"` or `None` to infer it (attribute name, or the number of required
      positional parameters of a callable: three for a flow, one for a map, two for a map
      driven by `inputs`).
    - `args`: passed as the third argument of `vector_field`.
    - `t0`: initial time (only matters for non-autonomous flows).
    - `inputs`: for an input-driven map `step(x, u)` (such as an SSM's hidden-state recurrence
      fed a token sequence): an array or PyTree of arrays whose leading axis, of length at least
      `transient + n_steps`, gives `u` at each iteration. Flows take time dependence through `t`.
    - `transient`: steps run before averaging starts: they bring the state onto the attractor
      and align the tangent basis with the most expanding directions (a few hundred steps
      usually suffice; the averages carry an `O(1 / n_steps)` bias without them).
    - `qr_every`: steps between re-orthonormalisations; `n_steps` must be a multiple. Larger
      values are faster; keep `qr_every * dt * (lambda_1 - lambda_k)` below ~20.
    - `key`: PRNG key for the random initial tangent basis (default: a fixed key).

    **Returns:** the `k` exponents in decreasing order, per unit time for a flow and for a map
    whose model has a sampling step `dt`, per iteration for other maps, in the real floating
    dtype of the state (use float64 for accurate spectra).

    **Raises:** `ValueError` for an empty `y0` or one with NaN or inf, a system whose output
    does not have the structure and shapes of `y0` (or fails on it), `k` outside `1..state`,
    non-positive `n_steps` or `dt`, a `dt` given for a map, `n_steps` not a multiple of
    `qr_every`, or `inputs` given for a flow or shorter than `transient + n_steps`. An
    `EquinoxRuntimeError` (at run time) when the orbit or the tangents become non-finite, with
    advice on how to fix it.

    Pass the same `system` object on every call to reuse the compiled computation (a new
    `lambda` each call compiles again).
    """
    caller = "lyapunov_spectrum"
    if system is None:
        raise TypeError(
            f"{caller}: system must be a flow or a map (a callable vector_field(t, y, args) or "
            "step(x), or an object with a .vector_field or .step), got system=None"
        )
    if isinstance(y0, jax.Array | np.ndarray) and np.ndim(y0) == 2:
        system = as_dynamical_model(system)  # a sequence model given context: its closed loop
    kind, fn = resolve_dynamics(system, kind, caller, driven=inputs is not None)
    contract = is_dynamical_model(system)
    if y0 is None:
        if getattr(system, "y0", None) is None:
            what = "y0 (or observed context)" if contract else "y0"
            raise ValueError(f"{caller}: pass {what}; {type(system).__name__} has no default `y0`")
        y0 = system.y0
    from_context = contract and isinstance(y0, jax.Array | np.ndarray) and np.ndim(y0) == 2
    if from_context:
        y0 = system.init_state(_as_inexact(y0))
    y0 = jax.tree_util.tree_map(_as_inexact, y0)
    check_finite(caller, "y0", y0)
    leaves = jax.tree_util.tree_leaves(y0)
    if not leaves or sum(leaf.size for leaf in leaves) == 0:
        raise ValueError(f"{caller}: y0 is an empty state ({y0!r})")
    flat = jax.eval_shape(lambda y: _real_coordinates(y)[0], y0)
    n, dtype = flat.shape[0], flat.dtype
    n_steps = _check_positive_int(n_steps, "n_steps", caller)
    transient = _check_positive_int(transient, "transient", caller, allow_zero=True)
    if inputs is not None:
        if kind == "flow":
            raise ValueError(
                f"{caller}: inputs drive maps only; a flow takes time dependence through t"
            )
        inputs = jax.tree_util.tree_map(jnp.asarray, inputs)
        lengths = {int(a.shape[0]) if a.ndim else 0 for a in jax.tree_util.tree_leaves(inputs)}
        if not lengths or min(lengths) < transient + n_steps:
            raise ValueError(
                f"{caller}: inputs need a leading axis of length >= transient + n_steps = "
                f"{transient + n_steps}, got lengths {sorted(lengths)}"
            )
        first = jax.tree_util.tree_map(lambda a: a[0], inputs)
        probe = lambda y: fn(y, first)  # noqa: E731
    elif kind == "flow":
        probe = lambda y: fn(jnp.asarray(t0, dtype), y, args)  # noqa: E731
    else:
        probe = lambda y: fn(y)  # noqa: E731
    try:
        out = jax.eval_shape(probe, y0)
    except (TypeError, ValueError, IndexError) as err:
        shapes = jax.tree_util.tree_map(lambda x: tuple(x.shape), y0)
        cls = TypeError if isinstance(err, TypeError) else ValueError
        raise cls(
            f"{caller}: calling the {'vector field' if kind == 'flow' else 'step'} on y0 (shape "
            f"{shapes}) failed; is y0 a state of this system? {type(err).__name__}: {err}"
        ) from err
    in_struct = jax.tree_util.tree_map(lambda x: (x.shape, x.dtype), y0)
    out_struct = jax.tree_util.tree_map(lambda x: (x.shape, x.dtype), out)
    if jax.tree_util.tree_structure(out) != jax.tree_util.tree_structure(y0) or any(
        a.shape != b.shape
        for a, b in zip(jax.tree_util.tree_leaves(out), jax.tree_util.tree_leaves(y0))
    ):
        raise ValueError(
            f"{caller}: the {kind} must map a state to a state of the same structure and shapes; "
            f"y0 is {in_struct} but it returned {out_struct}. A recurrence `step(state, x)` "
            "returning `(state, output)` must be wrapped: `lambda h: block.step(h, x)[0]`"
        )
    if k is None:
        k = n
        if from_context:
            observed = jax.eval_shape(system.observe, y0)
            k = min(n, sum(leaf.size for leaf in jax.tree_util.tree_leaves(observed)))
    if not isinstance(k, int | np.integer) or not 1 <= k <= n:
        raise ValueError(f"{caller}: k must be an integer in 1..{n} (the state size), got {k!r}")
    qr_every = _check_positive_int(qr_every, "qr_every", caller)
    if n_steps % qr_every:
        raise ValueError(f"{caller}: n_steps={n_steps} must be a multiple of qr_every={qr_every}")
    own_dt = sampling_step(system) if contract else None
    if kind == "flow":
        dt = own_dt if dt is None else dt
        if dt is None:
            hint = " (e.g. dt=system.period / 100)" if hasattr(system, "period") else ""
            raise ValueError(f"{caller}: dt (the RK4 step) is required for a flow{hint}")
        if not isinstance(dt, jax.core.Tracer) and not dt > 0:
            raise ValueError(f"{caller}: dt must be positive, got {dt!r}")
        unit = n_steps * dt
    else:
        if dt is not None and not contract:
            raise ValueError(
                f"{caller}: dt={dt!r} given for a map; a bare step function has no time unit "
                "(models of the dynamical-model contract take dt as their sampling step)"
            )
        step_time = own_dt if dt is None else dt
        if step_time is not None and not isinstance(step_time, jax.core.Tracer):
            if not step_time > 0:
                raise ValueError(f"{caller}: dt must be positive, got {step_time!r}")
        dt = 0.0
        unit = n_steps if step_time is None else n_steps * step_time
    q0 = _initial_basis(n, int(k), key, dtype)
    total = _benettin(
        fn,
        kind,
        y0,
        q0,
        jnp.asarray(t0, dtype=dtype),
        jnp.asarray(dt, dtype=dtype),
        args,
        inputs,
        transient,
        n_steps // qr_every,
        qr_every,
    )
    return jnp.sort(total / jnp.asarray(unit, dtype=dtype))[::-1]


def max_lyapunov(system: Any, y0: Any = None, **kwargs: Any) -> Scalar:
    """The largest Lyapunov exponent of a flow or a map.

    Follows one tangent vector; cheaper than the full spectrum.

    **Arguments:**

    - `system`, `y0`: as for [`dynlearn.analysis.lyapunov_spectrum`][].
    - `**kwargs`: the keyword arguments of `lyapunov_spectrum` (`n_steps`, `dt`, `kind`, `args`,
      `transient`, ...), except `k`.

    **Returns:** the largest exponent, a scalar (per unit time for a flow, per iteration for a
    map).
    """
    if "k" in kwargs:
        raise ValueError(f"max_lyapunov: k is fixed to 1, got k={kwargs['k']!r}")
    return lyapunov_spectrum(system, y0, k=1, **kwargs)[0]


def lyapunov_time(exponents: ArrayLike) -> Scalar:
    """The Lyapunov time `1 / lambda_max`, the e-folding time of small errors.

    **Arguments:**

    - `exponents`: the largest exponent, or a spectrum (its maximum is used).

    **Returns:** `1 / max(exponents)` as a scalar; `inf` when the largest exponent is not
    positive (no exponential divergence).

    **Raises:** `ValueError` for an empty spectrum or one with NaN (`equinox.error_if` under
    `jit`); `TypeError` for complex or non-numeric input.
    """
    exponents = check_dtype("lyapunov_time", "exponents", exponents, cast_integers=True)
    if exponents.size == 0:
        raise ValueError("lyapunov_time: exponents is an empty spectrum, got shape (0,)")
    exponents = refuse_if(
        exponents,
        jnp.any(jnp.isnan(exponents)),
        "lyapunov_time: exponents contains NaN (a failed estimate?)",
    )
    lam = jnp.max(exponents)
    return jnp.where(lam > 0, 1 / jnp.where(lam > 0, lam, 1), jnp.inf)


def kaplan_yorke_dimension(exponents: ArrayLike) -> Scalar:
    """The Kaplan–Yorke (Lyapunov) dimension of a spectrum.

    `D = j + (lambda_1 + ... + lambda_j) / |lambda_{j+1}|`, with exponents sorted decreasingly
    and `j` the largest index whose partial sum is non-negative (Kaplan & Yorke, 1979).

    **Arguments:**

    - `exponents`: a Lyapunov spectrum, in any order.

    **Returns:** the dimension, a scalar: `0` when the largest exponent is negative, the number
    of exponents when every partial sum is non-negative.

    **Raises:** `ValueError` for an empty or non-1-D spectrum, or one with NaN
    (`equinox.error_if` under `jit`); `TypeError` for complex or non-numeric input.
    """
    exponents = check_dtype("kaplan_yorke_dimension", "exponents", exponents, cast_integers=True)
    if exponents.ndim != 1 or exponents.size == 0:
        raise ValueError(
            f"kaplan_yorke_dimension: exponents must be a non-empty 1-D spectrum, got shape "
            f"{exponents.shape}"
        )
    exponents = refuse_if(
        exponents,
        jnp.any(jnp.isnan(exponents)),
        "kaplan_yorke_dimension: exponents contains NaN (a failed estimate?)",
    )
    lam = jnp.sort(exponents)[::-1]
    n = lam.shape[0]
    partial = jnp.cumsum(lam)
    j = jnp.sum(partial >= 0)  # partial sums decrease once the exponents turn negative
    s_j = jnp.where(j > 0, partial[jnp.maximum(j - 1, 0)], 0)
    nxt = lam[jnp.minimum(j, n - 1)]
    frac = s_j / jnp.abs(jnp.where(nxt == 0, 1, nxt))
    dim = j.astype(lam.dtype) + frac
    return jnp.where(j >= n, jnp.asarray(n, lam.dtype), dim)
