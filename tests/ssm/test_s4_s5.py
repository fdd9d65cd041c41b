"""S4: the Cauchy/Woodbury kernel equals the explicit powers of the dense discrete matrix and
convolution mode equals recurrent mode. S5: the parallel scan equals a naive NumPy loop and its
gradient equals the gradient of the step-by-step recurrence."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import dynlearn.ssm as ssm


def test_s4_dplr_is_hippo_legs(x64, getkey):
    """At initialization V A V^* is HiPPO-LegS, the DPLR matrix in its eigenbasis."""
    layer = ssm.S4(2, 6, key=getkey())
    _, _, _, V = ssm.hippo_nplr("legs", 6)
    A = np.asarray(V) @ np.asarray(layer.dense_A()[0]) @ np.asarray(V).conj().T
    np.testing.assert_allclose(A, ssm.hippo("legs", 6)[0], atol=1e-12)


def test_s4_kernel_equals_explicit_powers(x64, getkey):
    layer = ssm.S4(2, 8, key=getkey())
    A_bar, B_bar, C = (np.asarray(v) for v in layer.discrete())
    L = 33  # odd, and the z = -1 root of unity is covered by the even lengths below
    ref = np.zeros((2, L))
    for h in range(2):
        p = B_bar[h]
        for l in range(L):
            ref[h, l] = np.real(C[h] @ p)
            p = A_bar[h] @ p
    np.testing.assert_allclose(layer.kernel(L), ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(layer.kernel(32), ref[:, :32], rtol=0, atol=1e-12)


def test_s4_conv_equals_recurrent(getkey):
    layer = ssm.S4(3, 16, key=getkey())
    xs = jax.random.normal(getkey(), (128, 3))
    conv = eqx.filter_jit(layer)(xs)
    rec = eqx.filter_jit(layer.recurrent)(xs)
    np.testing.assert_allclose(rec, conv, atol=1e-5 * float(jnp.abs(conv).max()))


def test_s4_conv_equals_recurrent_float64(x64, getkey):
    layer = ssm.S4(2, 8, key=getkey())
    xs = jax.random.normal(getkey(), (64, 2), dtype=jnp.float64)
    np.testing.assert_allclose(layer.recurrent(xs), layer(xs), rtol=0, atol=1e-10)


def test_s5_parallel_scan_equals_naive_loop(x64, getkey):
    layer = ssm.S5(3, 8, key=getkey())
    xs = np.asarray(jax.random.normal(getkey(), (50, 3), dtype=jnp.float64))
    Lam, B, C = (np.asarray(v) for v in layer.discrete())
    # zoh by hand
    Lam_c = -np.exp(np.asarray(layer.log_neg_Lambda_real)) + 1j * np.asarray(layer.Lambda_imag)
    dt = np.exp(np.asarray(layer.log_dt))
    np.testing.assert_allclose(Lam, np.exp(Lam_c * dt), atol=1e-14)
    B_c = np.asarray(layer.B)[..., 0] + 1j * np.asarray(layer.B)[..., 1]
    np.testing.assert_allclose(B, ((np.exp(Lam_c * dt) - 1) / Lam_c)[:, None] * B_c, atol=1e-13)
    h = np.zeros(8, complex)
    ref = []
    for x in xs:
        h = Lam * h + B @ x
        ref.append(np.real(C @ h) + np.asarray(layer.D) * x)
    np.testing.assert_allclose(layer(jnp.asarray(xs)), np.stack(ref), rtol=0, atol=1e-10)


def test_s5_gradient_equals_sequential(getkey):
    layer = ssm.S5(3, 8, key=getkey())
    xs = jax.random.normal(getkey(), (40, 3))

    def sequential(m):
        return jax.lax.scan(lambda s, x: m.step(s, x), m.init_state(), xs)[1]

    g1 = eqx.filter_grad(lambda m: jnp.sum(jnp.sin(m(xs))))(layer)
    g2 = eqx.filter_grad(lambda m: jnp.sum(jnp.sin(sequential(m))))(layer)
    for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * float(jnp.abs(b).max()))
