"""Linear latent operators for learned Koopman models, with optional eigenvalue constraints.

The constrained operators are block diagonal with 2x2 rotation-scaling blocks
`r [[cos t, -sin t], [sin t, cos t]]` (eigenvalues `r exp(+-i t)`), the real normal form of a
diagonalisable operator; a learned encoder supplies the change of basis. `StableOperator` keeps
every `r` below `max_radius` (< 1: decaying dynamics), `UnitaryOperator` fixes `r = 1`
(measure-preserving dynamics), as in Lusch, Kutz & Brunton, "Deep learning for universal linear
embeddings of nonlinear dynamics" (2018) and the spectral constraints of the Koopman VAE
(Naiman et al., 2024). Fractional powers `K^t` are defined for the block operators, which lets a
latent model step over irregular time gaps.
"""

from __future__ import annotations

import abc
import math

import equinox as eqx
import jax
import jax.numpy as jnp

from .._types import Array, Complex, Float, Key


class AbstractLatentOperator(eqx.Module):
    """A linear map `z -> K z` of the latent state, the Koopman operator on learned observables."""

    @abc.abstractmethod
    def matrix(self) -> Float[Array, "latent latent"]:
        """The matrix `K`."""

    @abc.abstractmethod
    def eigenvalues(self) -> Complex[Array, " latent"]:
        """The eigenvalues of `K`."""

    def __call__(self, z: Float[Array, " latent"]) -> Float[Array, " latent"]:
        """Apply `K` to one latent state."""
        return self.matrix().astype(z.dtype) @ z

    def power(self, t: Float[Array, ""]) -> Float[Array, "latent latent"]:
        """`K^t` for a real time `t` (only operators with a defined fractional power)."""
        raise NotImplementedError(
            f"{type(self).__name__} has no fractional power; use StableOperator or "
            "UnitaryOperator for irregularly sampled time"
        )


def check_latent_operator(where: str, operator, latent_size: int) -> None:
    """Raise unless `operator` is an `AbstractLatentOperator` mapping a latent of `latent_size`
    to itself (a model's constructor calls this on a user-given operator)."""
    if not isinstance(operator, AbstractLatentOperator):
        raise TypeError(
            f"{where}: operator must be an AbstractLatentOperator (DenseOperator, "
            f"StableOperator, UnitaryOperator), got {type(operator).__name__}."
        )
    try:
        probe = jax.eval_shape(operator, jnp.zeros(latent_size))
    except Exception:  # noqa: BLE001 - any failure means the sizes do not fit
        probe = None
    if probe is None or probe.shape != (latent_size,):
        got = "applying it fails" if probe is None else f"it gives shape {probe.shape}"
        raise ValueError(
            f"{where}: operator does not map a latent of size {latent_size} to itself ({got}); "
            f"build it with latent_size={latent_size}."
        )


class DenseOperator(AbstractLatentOperator):
    """An unconstrained matrix `K`, initialised near `init_scale * I`.

    **Arguments:**

    - `latent_size`: latent dimension.
    - `init_scale`: diagonal of the initial matrix.
    - `key`: PRNG key for a small random perturbation (keyword-only).
    """

    weight: Float[Array, "latent latent"]

    def __init__(self, latent_size: int, init_scale: float = 0.95, *, key: Key):
        if latent_size < 1:
            raise ValueError(f"DenseOperator: latent_size must be >= 1, got {latent_size}")
        noise = 0.01 * jax.random.normal(key, (latent_size, latent_size))
        self.weight = init_scale * jnp.eye(latent_size) + noise

    def matrix(self) -> Float[Array, "latent latent"]:
        return self.weight

    def eigenvalues(self) -> Complex[Array, " latent"]:
        return jnp.linalg.eigvals(self.weight)


def _block_matrix(log_radii: Array, angles: Array, latent_size: int, t: Array) -> Array:
    # K^t for the block rotation-scaling operator with radii exp(log_radii) and given angles.
    pairs = latent_size // 2
    radius = jnp.exp(t * log_radii[:pairs])
    c, s = radius * jnp.cos(t * angles), radius * jnp.sin(t * angles)
    blocks = jnp.stack([jnp.stack([c, -s], -1), jnp.stack([s, c], -1)], -2)  # (pairs, 2, 2)
    eye = jnp.eye(pairs, dtype=blocks.dtype)
    full = jnp.einsum("ij,iab->iajb", eye, blocks).reshape(2 * pairs, 2 * pairs)
    if latent_size % 2:
        full = jax.scipy.linalg.block_diag(full, jnp.diag(jnp.exp(t * log_radii[pairs:])))
    return full


def _block_eigenvalues(log_radii: Array, angles: Array, latent_size: int) -> Array:
    pairs = latent_size // 2
    ctype = jnp.complex128 if angles.dtype == jnp.float64 else jnp.complex64
    up = jnp.exp(log_radii[:pairs].astype(ctype) + 1j * angles.astype(ctype))
    out = jnp.stack([up, jnp.conj(up)], -1).reshape(-1)
    if latent_size % 2:
        out = jnp.concatenate([out, jnp.exp(log_radii[pairs:]).astype(ctype)])
    return out


def _init_angles(latent_size: int, max_angle: float, key: Key) -> Array:
    return jax.random.uniform(key, (latent_size // 2,), minval=0.0, maxval=max_angle)


class _BlockOperator(AbstractLatentOperator):
    # Block rotation-scaling operator given its angles and the log of its block radii.

    angles: eqx.AbstractVar[Float[Array, " blocks"]]
    latent_size: eqx.AbstractVar[int]

    @abc.abstractmethod
    def log_radii(self) -> Float[Array, " radii"]:
        """log of the eigenvalue moduli, one per block."""

    def matrix(self) -> Float[Array, "latent latent"]:
        return _block_matrix(
            self.log_radii(), self.angles, self.latent_size, jnp.ones((), self.angles.dtype)
        )

    def power(self, t: Float[Array, ""]) -> Float[Array, "latent latent"]:
        return _block_matrix(
            self.log_radii(), self.angles, self.latent_size, jnp.asarray(t, self.angles.dtype)
        )

    def eigenvalues(self) -> Complex[Array, " latent"]:
        return _block_eigenvalues(self.log_radii(), self.angles, self.latent_size)


class StableOperator(_BlockOperator):
    """Block rotation-scaling operator with every `|eigenvalue| < max_radius` (stable dynamics).

    Radii are `max_radius * sigmoid(raw)`.

    **Arguments:**

    - `latent_size`: latent dimension (odd sizes get one real eigenvalue in `(0, max_radius)`).
    - `max_radius`: bound on the eigenvalue moduli (default 1: asymptotically stable).
    - `init_radius`: initial modulus of every eigenvalue.
    - `max_angle`: initial angles are uniform in `[0, max_angle]`.
    - `key`: PRNG key (keyword-only).
    """

    angles: Float[Array, " blocks"]
    raw_radii: Float[Array, " radii"]
    latent_size: int = eqx.field(static=True)
    max_radius: float = eqx.field(static=True)

    def __init__(
        self,
        latent_size: int,
        max_radius: float = 1.0,
        init_radius: float = 0.95,
        max_angle: float = 0.5,
        *,
        key: Key,
    ):
        if latent_size < 1 or not 0 < init_radius < max_radius:
            raise ValueError(
                "StableOperator: need latent_size >= 1 and 0 < init_radius < max_radius, got "
                f"{latent_size}, {init_radius}, {max_radius}"
            )
        self.latent_size = latent_size
        self.max_radius = max_radius
        self.angles = _init_angles(latent_size, max_angle, key)
        u = init_radius / max_radius
        count = latent_size // 2 + latent_size % 2
        self.raw_radii = jnp.full((count,), math.log(u / (1 - u)))

    def log_radii(self) -> Float[Array, " radii"]:
        """log of the eigenvalue moduli, one per block."""
        return math.log(self.max_radius) + jax.nn.log_sigmoid(self.raw_radii)


class UnitaryOperator(_BlockOperator):
    """Block rotation operator: every eigenvalue on the unit circle (measure-preserving dynamics).

    **Arguments:**

    - `latent_size`: latent dimension (an odd size gets one eigenvalue `1`).
    - `max_angle`: initial angles are uniform in `[0, max_angle]`.
    - `key`: PRNG key (keyword-only).
    """

    angles: Float[Array, " blocks"]
    latent_size: int = eqx.field(static=True)

    def __init__(self, latent_size: int, max_angle: float = 0.5, *, key: Key):
        if latent_size < 1:
            raise ValueError(f"UnitaryOperator: latent_size must be >= 1, got {latent_size}")
        if not max_angle > 0:
            raise ValueError(f"UnitaryOperator: max_angle must be > 0, got max_angle={max_angle}.")
        self.latent_size = latent_size
        self.angles = _init_angles(latent_size, max_angle, key)

    def log_radii(self) -> Float[Array, " radii"]:
        """log of the eigenvalue moduli (all zero)."""
        count = self.latent_size // 2 + self.latent_size % 2
        return jnp.zeros((count,), self.angles.dtype)
