"""The dysts zoo against dysts itself: equations, metadata, and 10^4-point integrations."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate

import dynlearn.systems as systems

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # dysts warns that numba is missing
    import dysts.flows as dysts_flows
    import dysts.maps as dysts_maps

# maps in dysts' metadata that we leave out (see dynlearn/systems/_maps.py for the reasons)
OMITTED_MAPS = {"BlinkingVortexMap", "EndCap", "Zaslavskii", "ZeraouliaSprott"}


def _dysts(name, module):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(module, name)()


def test_registry_covers_dysts():
    from dynlearn.systems._data import dysts_flows as flow_data
    from dynlearn.systems._data import dysts_maps as map_data

    ours = set(systems.names("flows")) | set(systems.names("delay"))
    assert ours == set(flow_data()) and len(ours) == 135
    assert len(systems.names("delay")) == 6
    ours_maps = {"Duffing" if n == "DuffingMap" else n for n in systems.names("maps")}
    assert ours_maps == set(map_data()) - OMITTED_MAPS


@pytest.mark.parametrize("group", ["flows", "delay"])
def test_flow_metadata_matches_dysts(group):
    for name in systems.names(group):
        ours, ref = systems.get(name), _dysts(name, dysts_flows)
        assert ours.dimension == ref.dimension, name
        np.testing.assert_allclose(ours.y0, np.asarray(ref.ic, dtype=float), err_msg=name)
        assert ours.dt == ref.dt and ours.period == ref.period, name
        assert set(ours.params) == set(ref.params), name
        for key, value in ref.params.items():
            np.testing.assert_allclose(ours.params[key], value, err_msg=f"{name}.{key}")
        meta = ours.metadata
        assert meta["lyapunov_spectrum_estimated"] == ref.lyapunov_spectrum_estimated
        assert meta["maximum_lyapunov_estimated"] == ref.maximum_lyapunov_estimated
        # one reference exponent per system: dysts' maximum_lyapunov_estimated, the benchmark's
        assert ours.max_lyapunov == ref.maximum_lyapunov_estimated, name
        assert "maximum_lyapunov_estimated" in meta["max_lyapunov_source"], name


def test_max_lyapunov_against_literature(x64):
    # Lorenz-63: 0.9056 (Sprott, "Chaos and time-series analysis", 2003); dysts' estimate 0.892
    assert abs(systems.get("Lorenz").max_lyapunov - 0.9056) < 0.02
    # maps, computed by generate_map_lyapunov.py: Henon (1.4, 0.3) 0.419 (Sprott 2003); the
    # baker's map ln 2
    assert abs(systems.get("Henon").max_lyapunov - 0.419) < 0.005
    np.testing.assert_allclose(systems.get("Baker").max_lyapunov, np.log(2), rtol=1e-4)
    # every map's stored value is what the analysis gives now (short run, loose tolerance)
    import dynlearn.analysis as analysis

    for name in ("Henon", "Tent", "Ikeda"):
        lam = float(analysis.max_lyapunov(systems.get(name), n_steps=20_000, transient=1_000))
        assert abs(lam - systems.get(name).max_lyapunov) < 0.02, name
    # systems without a documented exponent say so
    assert systems.get("VanDerPol").max_lyapunov is None
    assert systems.get("Bogdanov").max_lyapunov is None


def test_flow_vector_fields_match_dysts(x64):
    rng = np.random.default_rng(0)
    for name in systems.names("flows"):
        ours, ref = systems.get(name), _dysts(name, dysts_flows)
        scale = np.asarray(ours.metadata["std"]) * 0.2 + 1e-3
        for _ in range(4):
            y = ours.y0 + scale * rng.standard_normal(ours.dimension)
            t = float(rng.uniform(0.0, 3.0))
            expected = np.asarray(ref.rhs(y, t), dtype=float)
            got = np.asarray(ours.vector_field(t, jnp.asarray(y)))
            tol = 1e-10 * (1.0 + np.max(np.abs(expected)))
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=tol, err_msg=name)


def test_map_steps_match_dysts(x64):
    rng = np.random.default_rng(1)
    for name in systems.names("maps"):
        ours = systems.get(name)
        ref = _dysts("Duffing" if name == "DuffingMap" else name, dysts_maps)
        for _ in range(4):
            y = ours.y0 * (1 + 0.05 * rng.standard_normal(ours.dimension))
            expected = np.asarray(ref.rhs(y[None]), dtype=float).ravel()
            got = np.asarray(ours.step(jnp.asarray(y)))
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, err_msg=name)


def test_delay_vector_fields_match_dysts(x64):
    rng = np.random.default_rng(2)
    for name in systems.names("delay"):
        ours, ref = systems.get(name), _dysts(name, dysts_flows)
        for _ in range(4):
            x, xd, t = rng.uniform(-1.5, 1.5, size=3)
            expected = float(ref._rhs(x, xd, t, *ref.param_list))
            got = float(ours.delayed_vector_field(t, jnp.asarray(x), jnp.asarray(xd)))
            assert got == pytest.approx(expected, rel=1e-10, abs=1e-12), name


def _zoo_integrator(names):
    """One jitted RK4 integrator for many flows: `lax.switch` over their vector fields.

    Compiling one program for all systems keeps this test to seconds instead of one compilation
    per system.
    """
    flows = [systems.get(n) for n in names]
    width = max(f.dimension for f in flows)

    def branch(flow):
        d = flow.dimension
        return lambda t, y: jnp.pad(flow.vector_field(t, y[:d]), (0, width - d))

    branches = [branch(f) for f in flows]
    nodes = jnp.asarray([0.0, 0.5, 0.5, 1.0])
    weights = jnp.asarray([1.0, 2.0, 2.0, 1.0]) / 6

    @jax.jit
    def run(index, y0, dt):
        def step(carry, _):
            t, y = carry

            def stage(inner, node_weight):
                k, acc = inner
                c, b = node_weight
                k = jax.lax.switch(index, branches, t + c * dt, y + c * dt * k)
                return (k, acc + b * k), None

            zeros = jnp.zeros_like(y)
            (_, increment), _ = jax.lax.scan(stage, (zeros, zeros), (nodes, weights))
            y = y + dt * increment
            return (t + dt, y), y

        _, ys = jax.lax.scan(step, (jnp.zeros(()), y0), None, length=10_000)
        return ys

    def integrate(i):
        flow = flows[i]
        y0 = jnp.pad(jnp.asarray(flow.y0, dtype=jnp.float32), (0, width - flow.dimension))
        return run(i, y0, jnp.asarray(flow.dt, dtype=jnp.float32))[:, : flow.dimension]

    return integrate


def test_every_flow_integrates_1e4_points():
    names = systems.names("flows")
    integrate = _zoo_integrator(names)
    for i, name in enumerate(names):
        ys = np.asarray(integrate(i))
        assert ys.shape == (10_000, systems.get(name).dimension)
        assert np.all(np.isfinite(ys)), name
        assert np.max(np.abs(ys)) < 1e6, name


def test_every_map_iterates_1e4_points():
    for name in systems.names("maps"):
        ys = systems.trajectory(systems.get(name), 10_000)
        assert ys.shape == (10_000, systems.get(name).dimension)
        assert bool(jnp.all(jnp.isfinite(ys))), name


def test_every_delay_system_integrates_1e4_points():
    for name in systems.names("delay"):
        system = systems.get(name)
        ys = systems.trajectory(system, 10_000, dt=system.period / 100)
        assert ys.shape == (10_000, 10)
        assert bool(jnp.all(jnp.isfinite(ys))), name
        assert float(jnp.std(ys[:, 0])) > 1e-3, name  # not collapsed to a fixed point
        # columns are the delay embedding: column j lags column 0 by j tau / 9
        lag = system.delay / 9
        shift = round(lag / (system.period / 100))
        if abs(shift * system.period / 100 - lag) < 1e-9:
            np.testing.assert_allclose(ys[shift:, 0], ys[:-shift, 1], atol=1e-4)


def test_mackey_glass_first_delay_interval_matches_scipy(x64):
    # on [0, tau] the delayed argument is the known history, so the DDE is an ODE
    system = systems.get("MackeyGlass")
    tau = system.delay
    y0 = np.linspace(0.9, 1.3, 10)  # history x(-j tau / 9) = y0[j], linear in between
    lags = tau * np.arange(10) / 9
    p = system.params

    def rhs(t, x):
        xd = np.interp(tau - t, lags, y0)
        return p["beta"] * xd / (1 + xd ** p["n"]) - p["gamma"] * x

    dt = 0.05
    n = int(tau / dt) - 1
    # rows of `trajectory` are the embedding at t = tau + k dt: the last column is x(k dt)
    ys = systems.trajectory(system, n, dt=dt, y0=jnp.asarray(y0), steps_per_delay=810)
    ts = dt * np.arange(n)
    ref = scipy.integrate.solve_ivp(
        rhs, (0, ts[-1]), [y0[0]], t_eval=ts, rtol=1e-12, atol=1e-12, method="DOP853"
    ).y[0]
    np.testing.assert_allclose(np.asarray(ys[:, -1]), ref, atol=1e-8)


def test_delay_integrator_is_fourth_order(x64):
    system = systems.get("MackeyGlass")
    y0 = jnp.asarray(system.y0)
    runs = {
        m: systems.trajectory(system, 60, dt=0.5, y0=y0, steps_per_delay=m) for m in (90, 180, 1440)
    }
    err_coarse = float(jnp.max(jnp.abs(runs[90] - runs[1440])))
    err_fine = float(jnp.max(jnp.abs(runs[180] - runs[1440])))
    assert err_fine < 2e-6
    assert err_coarse / err_fine > 10  # fourth order: ~16x per halving of the step


def test_delay_vector_field_linear_chain():
    system = systems.get("MackeyGlass")
    y = jnp.linspace(0.5, 1.0, 10)
    out = system.vector_field(0.0, y)
    h = system.delay / 9
    head = system.delayed_vector_field(0.0, y[0], y[-1])
    np.testing.assert_allclose(float(out[0]), float(head), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out[1:]), np.asarray((y[:-1] - y[1:]) / h), rtol=1e-5)


def test_henon_heiles_hamiltonian_matches_zoo(x64):
    zoo, ham = systems.get("HenonHeiles"), systems.henon_heiles()
    y = jnp.asarray([0.1, -0.2, 0.3, 0.05])
    np.testing.assert_allclose(
        np.asarray(ham.vector_field(0.0, y)), np.asarray(zoo.vector_field(0.0, y)), rtol=1e-12
    )


def test_batched_delay_trajectories(getkey):
    system = systems.get("MackeyGlass")
    ys = systems.trajectories(system, 2, 50, key=getkey(), dt=0.5, burn_in=60, steps_per_delay=180)
    assert ys.shape == (2, 50, 10) and bool(jnp.all(jnp.isfinite(ys)))
    assert float(jnp.max(jnp.abs(ys[0, 0] - ys[1, 0]))) > 1e-4  # different starts
