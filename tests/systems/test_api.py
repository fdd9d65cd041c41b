"""The systems API: registry, trajectories, bad input, classic systems against exact references."""

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate

import dynlearn.systems as systems


def test_get_and_names():
    all_names = systems.names()
    assert all_names == sorted(all_names)
    for name in ("Lorenz", "Rossler", "Henon", "HarmonicOscillator", "VanDerPol"):
        assert name in all_names
    lorenz = systems.get("Lorenz")
    assert lorenz.params == {"beta": 2.667, "rho": 28.0, "sigma": 10.0}
    assert lorenz.dimension == 3 and lorenz.y0.shape == (3,)
    assert not lorenz.discrete and systems.get("Henon").discrete
    assert lorenz.metadata["embedding_dimension"] == 3
    assert lorenz.period == pytest.approx(1.5008)
    assert set(systems.names("classic")) <= set(all_names)
    assert "Henon" in systems.names("maps") and "Henon" not in systems.names("flows")


def test_unknown_name_lists_close_matches():
    with pytest.raises(KeyError, match="Lorenz"):
        systems.get("Lorenz63x")
    with pytest.raises(KeyError, match="Lorenz"):
        systems.get("lorenz")
    with pytest.raises(ValueError):
        systems.names("nope")


def test_wrong_y0_shape_raises():
    lorenz = systems.get("Lorenz")
    with pytest.raises(ValueError, match=r"\(3,\)"):
        systems.trajectory(lorenz, 10, y0=jnp.zeros(2))
    with pytest.raises(ValueError, match=r"\(2,\)"):
        systems.trajectory(systems.get("Henon"), 10, y0=jnp.zeros((1, 2)))
    with pytest.raises(ValueError):
        systems.trajectory(lorenz, 0)
    with pytest.raises(ValueError):
        lorenz.replace(y0=np.zeros(4))
    with pytest.raises(ValueError):
        lorenz.replace(params={"gamma": 1.0})


def test_lorenz_matches_scipy(x64):
    lorenz = systems.get("Lorenz")
    n, dt = 200, 0.005
    ys = systems.trajectory(lorenz, n, dt=dt, y0=jnp.asarray(lorenz.y0), rtol=1e-11, atol=1e-11)
    assert ys.shape == (n, 3) and ys.dtype == jnp.float64

    def rhs(t, s):
        x, y, z = s
        return [10 * (y - x), x * (28 - z) - y, x * y - 2.667 * z]

    ts = dt * np.arange(n)
    ref = scipy.integrate.solve_ivp(
        rhs, (0, ts[-1]), lorenz.y0, t_eval=ts, method="DOP853", rtol=1e-12, atol=1e-12
    ).y.T
    np.testing.assert_allclose(np.asarray(ys), ref, rtol=1e-6, atol=1e-6)


def test_transient_and_fixed_steps(x64):
    rossler = systems.get("Rossler")
    y0 = jnp.asarray(rossler.y0)
    kwargs = dict(
        dt=0.05, y0=y0, solver=diffrax.Dopri5(), stepsize_controller=diffrax.ConstantStepSize()
    )
    full = systems.trajectory(rossler, 40, **kwargs)
    tail = systems.trajectory(rossler, 40, transient=10, **kwargs)  # same compiled solver
    np.testing.assert_allclose(np.asarray(tail[:30]), np.asarray(full[10:]), rtol=1e-9, atol=1e-9)

    def rhs(t, s):
        x, y, z = s
        return [-y - z, x + 0.2 * y, 0.2 + z * x - 5.7 * z]

    ts = 0.05 * np.arange(40)
    ref = scipy.integrate.solve_ivp(
        rhs, (0, ts[-1]), rossler.y0, t_eval=ts, method="DOP853", rtol=1e-12, atol=1e-12
    ).y.T
    np.testing.assert_allclose(np.asarray(full), ref, rtol=1e-6, atol=1e-6)


def test_henon_matches_loop(x64):
    henon = systems.get("Henon")
    ys = np.asarray(systems.trajectory(henon, 30, transient=5, y0=jnp.asarray(henon.y0)))
    x, y = henon.y0
    ref = []
    for k in range(35):
        if k >= 5:
            ref.append((x, y))
        x, y = 1 - 1.4 * x**2 + y, 0.3 * x
    np.testing.assert_allclose(ys, np.asarray(ref), rtol=1e-6, atol=1e-6)


def test_parameter_override_and_gradient(x64):
    lorenz = systems.get("Lorenz")
    y = jnp.asarray([1.0, 2.0, 3.0])
    fast = lorenz.vector_field(0.0, y, {"sigma": 20.0})
    assert float(fast[0]) == pytest.approx(20.0)
    grad = jax.grad(lambda s: lorenz.vector_field(0.0, y, {"sigma": s})[0])(jnp.asarray(1.0))
    assert float(grad) == pytest.approx(1.0)

    # gradient of a trajectory end point with respect to rho, through the solver, against
    # central finite differences
    def end(rho):
        ys = systems.trajectory(
            lorenz,
            20,
            dt=0.01,
            y0=jnp.asarray(lorenz.y0),
            args={"rho": rho},
            rtol=1e-10,
            atol=1e-10,
        )
        return ys[-1, 2]

    rho = jnp.asarray(28.0)
    fd = (end(rho + 1e-5) - end(rho - 1e-5)) / 2e-5
    assert float(jax.grad(end)(rho)) == pytest.approx(float(fd), rel=1e-5)


def test_batched_trajectories(getkey):
    lorenz = systems.get("Lorenz")
    ys = systems.trajectories(lorenz, 4, 200, key=getkey(), dt=0.01, burn_in=500)
    assert ys.shape == (4, 200, 3)
    assert bool(jnp.all(jnp.isfinite(ys)))
    # starts differ and lie on the attractor (z of the Lorenz attractor stays in (0, 50))
    assert float(jnp.min(jnp.std(ys[:, 0], axis=0))) > 1e-3
    assert bool(jnp.all((ys[..., 2] > 0) & (ys[..., 2] < 50)))
    maps = systems.trajectories(systems.get("Henon"), 3, 100, key=getkey())
    assert maps.shape == (3, 100, 2) and bool(jnp.all(jnp.abs(maps) < 2))


def test_harmonic_oscillator_exact(x64):
    osc = systems.harmonic_oscillator(omega=2.0, mass=1.5, y0=(1.0, 0.6))
    ys = systems.trajectory(osc, 100, dt=0.05, y0=jnp.asarray(osc.y0), rtol=1e-11, atol=1e-11)
    t = 0.05 * np.arange(100)
    q = np.cos(2 * t) + 0.6 / (1.5 * 2) * np.sin(2 * t)
    np.testing.assert_allclose(np.asarray(ys[:, 0]), q, atol=1e-8)
    energy = osc.energy(ys)
    assert energy.shape == (100,)
    np.testing.assert_allclose(np.asarray(energy), float(energy[0]), rtol=1e-9)


@pytest.mark.parametrize("make", [systems.pendulum, systems.double_pendulum])
def test_hamiltonian_energy_conserved(make, x64):
    system = make()
    ys = systems.trajectory(system, 300, y0=jnp.asarray(system.y0), rtol=1e-10, atol=1e-10)
    energy = np.asarray(system.energy(ys))
    assert np.max(np.abs(energy - energy[0])) < 1e-7 * max(1.0, abs(energy[0]))


def test_double_pendulum_matches_textbook_equations(x64):
    # Hamilton's equations of the double pendulum in canonical momenta (e.g. Wikipedia's
    # "Double pendulum"); dysts' DoublePendulum halves the p1 p2 cos term of h2, so the zoo's
    # "DoublePendulum" (which follows dysts) differs from this classic one.
    classic = systems.double_pendulum()
    y = jnp.asarray([0.3, -1.1, 0.7, 0.2])
    th1, th2, p1, p2 = np.asarray(y)
    g, l1, l2, m1, m2 = 9.81, 1.0, 1.0, 1.0, 1.0
    c, s = np.cos(th1 - th2), np.sin(th1 - th2)
    denom = l1 * l2 * (m1 + m2 * s**2)
    th1dot = (l2 * p1 - l1 * p2 * c) / (l1 * denom)
    th2dot = ((m1 + m2) * l1 * p2 - m2 * l2 * p1 * c) / (m2 * l2 * denom)
    h1 = p1 * p2 * s / denom
    big = m1 + m2 * s**2
    h2 = (m2 * l2**2 * p1**2 + (m1 + m2) * l1**2 * p2**2 - 2 * m2 * l1 * l2 * p1 * p2 * c) / (
        2 * l1**2 * l2**2 * big**2
    )
    h2 *= np.sin(2 * (th1 - th2))
    ref = [
        th1dot,
        th2dot,
        -(m1 + m2) * g * l1 * np.sin(th1) - h1 + h2,
        -m2 * g * l2 * np.sin(th2) + h1 - h2,
    ]
    np.testing.assert_allclose(np.asarray(classic.vector_field(0.0, y)), ref, rtol=1e-12)


def test_lotka_volterra_invariant(x64):
    lv = systems.lotka_volterra()
    ys = systems.trajectory(lv, 500, y0=jnp.asarray(lv.y0), rtol=1e-10, atol=1e-10)
    v = np.asarray(systems.lotka_volterra_invariant(lv, ys))
    assert np.ptp(v) < 1e-7


def test_van_der_pol_limit_cycle():
    vdp = systems.van_der_pol(mu=1.0)
    ys = systems.trajectory(vdp, 2000, dt=0.05, y0=jnp.asarray([0.1, 0.0]))
    # the limit cycle of mu = 1 has amplitude ~2.0
    assert float(jnp.max(jnp.abs(ys[1000:, 0]))) == pytest.approx(2.0, abs=0.02)


def test_lorenz96_matches_loop():
    l96 = systems.lorenz96(dimension=7, forcing=8.0)
    x = np.linspace(-1.0, 2.0, 7)
    ref = [(x[(i + 1) % 7] - x[i - 2]) * x[i - 1] - x[i] + 8.0 for i in range(7)]
    out = l96.vector_field(0.0, jnp.asarray(x, dtype=jnp.float32))
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-5, atol=1e-5)
    ys = systems.trajectory(l96, 500, dt=0.05)
    assert ys.shape == (500, 7) and bool(jnp.all(jnp.isfinite(ys)))
    with pytest.raises(ValueError):
        systems.lorenz96(dimension=3)


def test_fitzhugh_nagumo_and_forced_duffing():
    fhn = systems.fitzhugh_nagumo()
    out = fhn.vector_field(0.0, jnp.asarray([0.5, 0.2]))
    ref = [0.5 - 0.5**3 / 3 - 0.2 + 0.5, (0.5 + 0.7 - 0.8 * 0.2) / 12.5]
    np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-6)
    duff = systems.duffing()
    y = jnp.asarray([0.5, -0.1])
    t = 1.3
    ref = [-0.1, 0.03 + 0.5 - 0.125 + 0.5 * np.cos(1.2 * t)]
    np.testing.assert_allclose(np.asarray(duff.vector_field(t, y)), ref, rtol=1e-6)


def test_zoo_trajectories_match_references(x64):
    zoo = [systems.get("Lorenz"), systems.get("HyperRossler"), systems.get("Henon")]
    outs = systems.zoo_trajectories(
        zoo, 50, points_per_period=50, dtype=jnp.float64, rtol=1e-10, atol=1e-10
    )
    assert [o.shape for o in outs] == [(50, 3), (50, 4), (50, 2)]
    for system, out in zip(zoo[:2], outs):
        ts = system.period / 50 * np.arange(50)
        rhs = lambda t, y, s=system: np.asarray(s.vector_field(t, jnp.asarray(y)))  # noqa: E731
        ref = scipy.integrate.solve_ivp(
            rhs, (0, ts[-1]), system.y0, t_eval=ts, method="DOP853", rtol=1e-12, atol=1e-12
        ).y.T
        np.testing.assert_allclose(np.asarray(out), ref, rtol=1e-6, atol=1e-6)
    henon = systems.trajectory(zoo[2], 50, y0=jnp.asarray(zoo[2].y0))
    np.testing.assert_allclose(np.asarray(outs[2]), np.asarray(henon))
