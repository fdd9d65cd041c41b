"""Bad input to dynlearn.pinn: the error type and a message naming the entry, the argument and
(where there is one) the value.

Everything is checked at the Python entry (constructors and public functions), before any
compiled code runs; the nets, operators and terms are tiny so the file runs in seconds."""

import inspect
import types

import jax
import jax.numpy as jnp
import optax
import pytest

from dynlearn import pinn as P

# The test run's jaxtyping/beartype hook refuses ill-typed arguments (None for an array, an
# unknown Literal mode) before the body runs; the functions are called undecorated here so the
# library's own checks, which users see, are what is tested.
U = types.SimpleNamespace(
    **{name: inspect.unwrap(getattr(P, name)) for name in P.__all__ if name[0].islower()}
) if hasattr(P, "__all__") else types.SimpleNamespace(
    **{name: inspect.unwrap(obj) for name, obj in vars(P).items()
       if name[0].islower() and inspect.isfunction(obj)}
)
K = jax.random.key(0)
NET = P.MLP(2, "scalar", width=4, depth=1, key=K)
X = jnp.full((5, 2), 0.3)
LAG = P.LagrangianPINN(NET, NET)
NET2 = P.MLP(2, 2, width=4, depth=1, key=K)


def _typed(arg, fragments, thunk):
    """A wrong type for an annotated argument of a class: under the test run's beartype hook the
    annotation refuses it first (naming the parameter); without the hook (as users run) the
    library's own `TypeError` must carry `fragments` (also checked by the #21 sweep)."""
    with pytest.raises(TypeError) as info:
        thunk()
    text = str(info.value)
    if "Type-check error" in text:
        assert f"'{arg}'" in text or f"{arg}=" in text, text
    else:
        for fragment in fragments:
            assert fragment in text, (fragment, text)


def _raises(error, fragments, thunk):
    with pytest.raises(error) as info:
        thunk()
    text = str(info.value)
    for fragment in fragments:
        assert fragment in text, (fragment, text)


OPERATORS = {
    "partial_derivative": lambda x: U.partial_derivative(NET, x, (1, 0)),
    "gradient": lambda x: U.gradient(NET, x),
    "divergence": lambda x: U.divergence(NET2, x),
    "laplacian": lambda x: U.laplacian(NET, x),
    "directional_derivatives": lambda x: U.directional_derivatives(NET, x, jnp.ones(2), 2),
}


@pytest.mark.parametrize("entry", sorted(OPERATORS))
@pytest.mark.parametrize(
    "x, error, fragment",
    [
        (None, TypeError, "x must be an array, got None"),
        (jnp.ones((5, 3)), ValueError, "x (collocation points) has dimension 3"),
        (jnp.ones((2, 5, 2)), ValueError, "x (collocation points) must have shape (d,) or (n, d)"),
        (X.at[0, 0].set(jnp.nan), ValueError, "x (collocation points) contains 1 non-finite"),
        (jnp.ones((5, 2), int), TypeError, "x (collocation points) must be real floating point"),
        (X.astype(jnp.complex64), TypeError, "x (collocation points) must be real floating"),
    ],
)
def test_operators_name_bad_points(entry, x, error, fragment):
    _raises(error, [entry, fragment], lambda: OPERATORS[entry](x))


def test_operator_arguments_are_named():
    _raises(TypeError, ["partial_derivative", "orders must be ints", "1.5"],
            lambda: U.partial_derivative(NET, X, (1.5, 0)))
    _raises(ValueError, ["partial_derivative", "one non-negative order per coordinate (2)"],
            lambda: U.partial_derivative(NET, X, (1,)))
    _raises(ValueError, ["partial_derivative", "mode must be one of ['forward', 'taylor']",
                         "'jet'"], lambda: U.partial_derivative(NET, X, (1, 0), mode="jet"))
    _raises(ValueError, ["laplacian", "mode must be one of", "'x'"],
            lambda: U.laplacian(NET, X, mode="x"))
    _typed("field", ["partial_derivative", "field must be callable", "None"],
            lambda: U.partial_derivative(None, X, (1, 0)))
    for entry in ("gradient", "laplacian"):
        _raises(ValueError, [entry, "coordinates must be distinct indices in [0, 2)", "(5,)"],
                lambda entry=entry: getattr(U, entry)(NET, X, coordinates=(5,)))
    _raises(ValueError, ["divergence", "coordinates", "(5,)"],
            lambda: U.divergence(lambda p: p, X, coordinates=(5,)))
    _raises(ValueError, ["gradient", "coordinates", "(0, 0)"],
            lambda: U.gradient(NET, X, coordinates=(0, 0)))
    _raises(TypeError, ["gradient", "coordinates must be ints"],
            lambda: U.gradient(NET, X, coordinates=(0.5,)))
    _raises(ValueError, ["directional_derivatives", "order must be a non-negative int", "2.0"],
            lambda: U.directional_derivatives(NET, X, jnp.ones(2), 2.0))
    _raises(TypeError, ["directional_derivatives", "direction must be an array, got None"],
            lambda: U.directional_derivatives(NET, X, None, 1))
    _raises(ValueError, ["directional_derivatives", "direction contains 1 NaN"],
            lambda: U.directional_derivatives(NET, X, jnp.array([1.0, jnp.nan]), 1))


def test_sampling_arguments_are_named():
    up = lambda n, lo, hi: U.uniform_points(n, lo, hi, key=K)  # noqa: E731
    _raises(ValueError, ["uniform_points", "n_points must be a positive int", "n_points=0"],
            lambda: up(0, [0.0, 0.0], [1.0, 1.0]))
    _raises(ValueError, ["n_points=-1"], lambda: up(-1, [0.0, 0.0], [1.0, 1.0]))
    _raises(TypeError, ["uniform_points", "n_points must be an int", "2.5"],
            lambda: up(2.5, [0.0, 0.0], [1.0, 1.0]))
    _raises(ValueError, ["uniform_points", "lower contains 1 NaN"],
            lambda: up(3, [float("nan"), 0], [1, 1]))
    _raises(TypeError, ["uniform_points", "lower must be an array, got None"],
            lambda: up(3, None, [1, 1]))
    _raises(TypeError, ["uniform_points", "upper must be real floating point"],
            lambda: up(3, [0, 0], [1j, 1]))
    _raises(ValueError, ["grid_points", "axes is empty"], lambda: U.grid_points())
    _raises(ValueError, ["grid_points", "axes[0] is empty"],
            lambda: U.grid_points(jnp.ones(0), jnp.ones(3)))
    _raises(TypeError, ["grid_points", "axes[1] must be an array, got None"],
            lambda: U.grid_points(jnp.ones(2), None))
    _raises(ValueError, ["grid_points", "axes[0] contains 1 NaN"],
            lambda: U.grid_points(jnp.array([0.0, jnp.nan])))
    _raises(TypeError, ["collocation_data", "set 'a'", "None"],
            lambda: U.collocation_data(a=None))
    _raises(TypeError, ["collocation_data", "set 'a'", "complex"],
            lambda: U.collocation_data(a=X.astype(jnp.complex64)))


def test_metric_and_weights_arguments_are_named():
    _raises(ValueError, ["relative_l2", "reference is all zeros"],
            lambda: U.relative_l2(jnp.ones(3), jnp.zeros(3)))
    _raises(TypeError, ["relative_l2", "prediction must be real floating point", "complex"],
            lambda: U.relative_l2(jnp.ones(3, jnp.complex64), jnp.ones(3)))
    _raises(TypeError, ["relative_l2", "prediction must be an array, got None"],
            lambda: U.relative_l2(None, jnp.ones(3)))
    _raises(ValueError, ["relative_l2", "prediction (3,) and reference (4,)"],
            lambda: U.relative_l2(jnp.ones(3), jnp.ones(4)))
    _raises(ValueError, ["causal_weights", "eps must be finite and non-negative", "eps=-1.0"],
            lambda: U.causal_weights(jnp.ones(4), -1.0))
    _raises(TypeError, ["causal_weights", "chunk_losses must be an array, got None"],
            lambda: U.causal_weights(None, 1.0))
    _raises(ValueError, ["causal_weights", "chunk_losses must have 1 dimension", "(2, 2)"],
            lambda: U.causal_weights(jnp.ones((2, 2)), 1.0))
    _raises(ValueError, ["CausalWeights", "eps=-1.0"],
            lambda: P.CausalWeights(4, -1.0, (0.0, 1.0)))
    _raises(ValueError, ["CausalWeights", "n_chunks must be a positive int", "n_chunks=0"],
            lambda: P.CausalWeights(0, 1.0, (0.0, 1.0)))
    _raises(ValueError, ["CausalWeights", "t_range[1] must be finite"],
            lambda: P.CausalWeights(2, 1.0, (0.0, float("inf"))))
    _raises(ValueError, ["FixedWeights", "weights['a']", "-1.0"],
            lambda: P.FixedWeights({"a": -1.0}))
    _typed("weights", ["FixedWeights", "weights must be a dict"],
            lambda: P.FixedWeights([1.0]))
    _raises(ValueError, ["GradNormWeights", "max_weight", "max_weight=0.0"],
            lambda: P.GradNormWeights(0.0))
    _raises(ValueError, ["NTKWeights", "max_points must be a positive int", "max_points=0"],
            lambda: P.NTKWeights(0))


def test_net_arguments_are_named():
    for cls in (P.MLP, P.ModifiedMLP):
        name = cls.__name__
        _raises(ValueError, [name, "in_size=0"], lambda cls=cls: cls(0, 1, key=K))
        _raises(ValueError, [name, "width=0"], lambda cls=cls: cls(2, 1, width=0, key=K))
        _raises(ValueError, [name, "depth must be a non-negative int", "depth=-1"],
                lambda cls=cls: cls(2, 1, depth=-1, key=K))
        _typed("activation", [name, "activation must be callable", "None"],
                lambda cls=cls: cls(2, 1, activation=None, key=K))
        _raises(ValueError, [name, "out_size", "'vector'"],
                lambda cls=cls: cls(2, "vector", key=K))
    _typed("x", ["MLP", "x must be one point", "None"], lambda: NET(None))
    _raises(ValueError, ["DenseLayer", "in_size=0"], lambda: P.DenseLayer(0, 2, key=K))
    _raises(ValueError, ["DenseLayer", "out_size=-2"], lambda: P.DenseLayer(2, -2, key=K))
    _typed("factorization", ["DenseLayer", "factorization must be None or a pair", "(1.0,)"],
            lambda: P.DenseLayer(2, 2, factorization=(1.0,), key=K))
    _raises(ValueError, ["DenseLayer", "sigma", "-0.1"],
            lambda: P.DenseLayer(2, 2, factorization=(1.0, -0.1), key=K))
    _raises(ValueError, ["FourierFeatures", "n_features=0"],
            lambda: P.FourierFeatures(2, 0, key=K))
    _raises(ValueError, ["FourierFeatures", "scale=-1.0"],
            lambda: P.FourierFeatures(2, 4, -1.0, key=K))
    _raises(ValueError, ["PeriodicEmbedding", "periods[0]", "0.0"],
            lambda: P.PeriodicEmbedding(2, [0.0, None]))
    _raises(ValueError, ["PeriodicEmbedding", "harmonics=0"],
            lambda: P.PeriodicEmbedding(2, [1.0, None], 0))


def test_terms_and_loss_arguments_are_named():
    _typed("equation", ["Residual", "equation must be callable", "None"],
           lambda: P.Residual(None))
    _typed("value", ["Dirichlet", "value must be callable"], lambda: P.Dirichlet(None))
    _typed("normal", ["Neumann", "normal must be callable"], lambda: P.Neumann(None))
    _raises(ValueError, ["Dirichlet", "value returns shape (3,)", "field returns shape ()"],
            lambda: P.Dirichlet(lambda p: jnp.ones(3))(NET, X))
    _raises(ValueError, ["Residual", "points (collocation points) contains 1 non-finite"],
            lambda: P.Residual(lambda f, p: f(p))(NET, X.at[1, 1].set(jnp.inf)))
    _raises(ValueError, ["Periodic", "coordinate must be an index in [0, 2)", "coordinate=5"],
            lambda: P.Periodic(5, 1.0)(NET, X))
    _raises(ValueError, ["Periodic", "period must be finite and positive", "period=0.0"],
            lambda: P.Periodic(0, 0.0))
    _raises(ValueError, ["Periodic", "derivatives must be a non-negative int", "derivatives=-1"],
            lambda: P.Periodic(0, 1.0, -1))
    _raises(TypeError, ["Observations", "values must be an array, got None"],
            lambda: P.Observations()(NET, (X, None)))
    term = {"r": P.Residual(lambda f, p: f(p))}
    _typed("weighting", ["PINNLoss", "weighting must be an AbstractWeighting", "'ntk'"],
            lambda: P.PINNLoss(term, weighting="ntk"))
    _typed("causal", ["PINNLoss", "causal must be a CausalWeights"],
            lambda: P.PINNLoss(term, causal=1.0))
    _typed("terms", ["PINNLoss", "terms must be a dict"],
            lambda: P.PINNLoss([P.Residual(lambda f, p: f(p))]))
    _raises(ValueError, ["PINNLoss", "terms is empty"], lambda: P.PINNLoss({}))


def test_training_arguments_are_named():
    lf = lambda m, b, key=None: jnp.sum(jax.vmap(m)(b) ** 2)  # noqa: E731
    for arg in ("steps", "memory_size", "steps_per_dispatch"):
        kwargs = {"steps": 2, arg: 0}
        _raises(ValueError, ["lbfgs", f"{arg} must be a positive int", f"{arg}=0"],
                lambda kwargs=kwargs: U.lbfgs(NET, lf, X, **kwargs))
    _raises(TypeError, ["lbfgs", "loss_fn must be callable"],
            lambda: U.lbfgs(NET, None, X, steps=2))
    _raises(ValueError, ["lbfgs", "data contains 1 NaN"],
            lambda: U.lbfgs(NET, lf, X.at[0, 0].set(jnp.nan), steps=2))
    closs = P.PINNLoss({"r": P.Residual(lambda f, p: f(p))},
                       causal=P.CausalWeights(2, 1.0, (0.0, 1.0), term="r"))
    data = {"r": X}
    fc = lambda **kw: U.fit_causal(  # noqa: E731
        NET, closs, kw.pop("data", data), optax.adam(1e-3), key=K,
        **{"steps_per_eps": 2, "batch_size": 4, **kw})
    _raises(ValueError, ["fit_causal", "steps_per_eps=0"], lambda: fc(steps_per_eps=0))
    _raises(ValueError, ["fit_causal", "batch_size=0"], lambda: fc(batch_size=0))
    _raises(ValueError, ["fit_causal", "eps_schedule is empty"], lambda: fc(eps_schedule=()))
    _raises(ValueError, ["fit_causal", "eps_schedule[0]", "-1.0"],
            lambda: fc(eps_schedule=(-1.0,)))
    _raises(ValueError, ["fit_causal", "eps_schedule must increase"],
            lambda: fc(eps_schedule=(1.0, 0.1)))
    _raises(ValueError, ["fit_causal", "delta must lie in [0, 1]", "delta=-1.0"],
            lambda: fc(delta=-1.0))
    _raises(ValueError, ["fit_causal", "data['r'] contains 1 NaN"],
            lambda: fc(data={"r": X.at[0, 0].set(jnp.nan)}))
    _raises(TypeError, ["fit_causal", "loss must be a PINNLoss"],
            lambda: U.fit_causal(NET, None, data, optax.adam(1e-3), steps_per_eps=2,
                                 batch_size=4, key=K))
    _raises(ValueError, ["WindowedField", "strictly increasing", "(0.0, 1.0, 0.5)"],
            lambda: P.WindowedField((NET, NET), (0.0, 1.0, 0.5)))
    _raises(ValueError, ["TimeWindow", "t1 must be a finite number", "nan"],
            lambda: P.TimeWindow(NET, 0.0, float("nan")))
    _raises(TypeError, ["time_marching", "train_window must be callable"],
            lambda: U.time_marching(None, [0.0, 1.0]))
    _raises(TypeError, ["time_marching", "must return a field", "window 0"],
            lambda: U.time_marching(lambda k, a, b, prev: None, [0.0, 1.0]))


def test_inverse_lagrangian_constraint_arguments_are_named():
    _typed("field", ["FieldWithCoefficients", "field must be callable"],
            lambda: P.FieldWithCoefficients(None, {"a": 1.0}))
    _typed("coefficients", ["FieldWithCoefficients", "coefficients must be a dict"],
            lambda: P.FieldWithCoefficients(NET, [1.0]))
    _raises(ValueError, ["FieldWithCoefficients", "coefficients['a'] contains 1 NaN"],
            lambda: P.FieldWithCoefficients(NET, {"a": float("nan")}))
    _raises(TypeError, ["coefficient_optimizer", "field_optimizer must be an optax"],
            lambda: U.coefficient_optimizer(None, optax.adam(1e-2)))
    _raises(ValueError, ["LagrangianPINN", "speed_scale", "speed_scale=0.0"],
            lambda: P.LagrangianPINN(NET, NET, 0.0))
    _raises(ValueError, ["LagrangianPINN", "in_size must be 2", "in_size=0"],
            lambda: P.LagrangianPINN(NET, NET, 1.0, 0))
    _raises(ValueError, ["lagrangian_convection_diffusion", "diffusion", "diffusion=-1.0"],
            lambda: U.lagrangian_convection_diffusion(LAG, jnp.ones(2), 1.0, -1.0))
    _raises(ValueError, ["lagrangian_convection_diffusion", "p must have shape (2,)", "(3,)"],
            lambda: U.lagrangian_convection_diffusion(LAG, jnp.ones(3), 1.0, 0.1))
    l2e = lambda xi, **kw: U.lagrangian_to_eulerian(LAG, jnp.ones(3), 0.5, xi, **kw)  # noqa: E731
    _raises(TypeError, ["lagrangian_to_eulerian", "xi_grid must be an array, got None"],
            lambda: l2e(None))
    _raises(ValueError, ["lagrangian_to_eulerian", "xi_grid must be at least 2"],
            lambda: l2e(jnp.ones(1)))
    _raises(ValueError, ["lagrangian_to_eulerian", "xi_grid", "non-increasing"],
            lambda: l2e(jnp.array([0.0, 1.0, 0.5])))
    _raises(ValueError, ["lagrangian_to_eulerian", "period", "period=0.0"],
            lambda: l2e(jnp.linspace(0, 1, 5), period=0.0))
    _typed("distance", ["HardConstraint", "distance must be callable"],
            lambda: P.HardConstraint(NET, lambda p: 0.0, None))
    basis = P.MLP(2, 3, width=4, depth=1, key=K)
    eq = lambda u, pts: jax.vmap(u)(pts)  # noqa: E731
    _raises(ValueError, ["MixtureOfExpertsLSQ", "edges", "(0.0, 1.0, 0.5)"],
            lambda: P.MixtureOfExpertsLSQ(basis, eq, (0.0, 1.0, 0.5)))
    _raises(ValueError, ["MixtureOfExpertsLSQ", "ridge", "ridge=-1.0"],
            lambda: P.MixtureOfExpertsLSQ(basis, eq, (0.0, 1.0), ridge=-1.0))
    _raises(ValueError, ["MixtureOfExpertsLSQ", "max_steps=0"],
            lambda: P.MixtureOfExpertsLSQ(basis, eq, (0.0, 1.0), max_steps=0))
    layer = P.MixtureOfExpertsLSQ(basis, eq, (0.0, 0.5, 1.0))
    _raises(ValueError, ["ExpertField", "coefficients must have shape (2, n_basis)", "(3, 3)"],
            lambda: P.ExpertField(layer, jnp.ones((3, 3))))


def test_good_input_still_passes():
    """The checks refuse only bad input: valid calls agree with a direct computation."""
    du = U.partial_derivative(lambda p: p[0] ** 3 * p[1], X, (1, 1))
    assert jnp.allclose(du, 3 * X[:, 0] ** 2)
    assert jnp.allclose(U.relative_l2(jnp.array([1.0, 2.0]), jnp.array([1.0, 1.0])),
                        1.0 / jnp.sqrt(2.0))
    assert U.directional_derivatives(NET, X, jnp.ones(2), 0).shape == (5, 1)
    pts = U.uniform_points(4, [0.0, 0.0], [1.0, 1.0], key=K)
    assert pts.shape == (4, 2) and bool(jnp.all((pts >= 0) & (pts <= 1)))
