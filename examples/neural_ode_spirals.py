"""A neural ODE learns the cubic spiral when given the demo's cubic features, and Lotka–Volterra
from the state; a plain MLP of the state does not learn the spiral at the same budget.

Chen et al. (2018), "Neural Ordinary Differential Equations" (the spiral demo of torchdiffeq,
`dy/dt = A y^3` with `A = [[-0.1, 2], [-2, -0.1]]`), and Kidger (2021), "On Neural Differential
Equations". An MLP vector field is trained on short windows of trajectories from random initial
conditions with the fused fixed-grid RK4 kernel (`FixedGrid`) through `dynlearn.train.fit`, then
rolled out over the whole horizon from held-out initial conditions with an adaptive Tsit5 solve.
The score is the relative L2 error of those rollouts. Three models, same budget (steps, data,
optimizer):

- *cubic spiral, demo features*: the MLP sees `y^3`, as in torchdiffeq's demo;
- *cubic spiral, plain MLP*: the MLP sees the state `y` (the baseline: no prior knowledge);
- *Lotka–Volterra, plain MLP*: `systems.lotka_volterra`, the MLP sees the state.

What the runs show (median held-out relative error; results files
`docs/reproductions/neural_ode_spirals.json` and, for `--full`, `docs/reproductions/full/`):

| budget | cubic spiral, demo features | cubic spiral, plain MLP | Lotka–Volterra, plain MLP |
|---|---|---|---|
| default (600 steps, 64 series; seeds 0-2; 120 s at load 8-12) | 0.060 | 0.902 | 0.119 |
| `--full` (3000 steps, 256 series; seed 0; 72 s, 80 s CPU, load 2-3) | 0.019 | 0.070 | 0.035 |

At the default budget only the demo's cubic features learn the spiral; what only the longer
version shows is that the plain MLP of the state learns it too with 5x the steps and 4x the data
(0.070), so the default's gap is a budget effect, not a limit of the plain model (one seed).

Run: `dynlearn reproduce neural_ode_spirals [--results-dir DIR]` (seeds 0, 1, 2; `--seeds` to
change; `--full` for more data and steps). Writes the results file `DIR/neural_ode_spirals.json`
and `./dynlearn-out/neural_ode_spirals.png`.
"""

# %%
import argparse
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import optax

from dynlearn import systems
from dynlearn._ledger import Reproduction
from dynlearn.nde import FixedGrid, NeuralODE, trajectory_mse
from dynlearn.train import fit

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--full", action="store_true", help="more data and training steps")
parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
args, _ = parser.parse_known_args()
steps = 3000 if args.full else 600
n_train, n_test, window = (256 if args.full else 64), 32, 8


# %% The learned vector field: an MLP of the state, or of its cube (torchdiffeq's demo).
class Field(eqx.Module):
    mlp: eqx.nn.MLP
    scale: float = eqx.field(static=True)
    cubic: bool = eqx.field(static=True)

    def __init__(self, dim, width, scale, cubic, *, key):
        activation = jnp.tanh if cubic else jax.nn.softplus
        self.mlp = eqx.nn.MLP(dim, dim, width, 2, activation=activation, key=key)
        self.scale = scale
        self.cubic = cubic

    def __call__(self, t, y, args):
        if self.cubic:
            return self.mlp(y**3)
        return self.scale * self.mlp(y / self.scale)


# %% Data: the cubic spiral dy/dt = A y^3 and Lotka–Volterra from systems.lotka_volterra.
A = jnp.array([[-0.1, 2.0], [-2.0, -0.1]])
spiral = NeuralODE(lambda t, y, a: (y**3) @ A.T)
lv = systems.lotka_volterra()
spiral_problem = (
    lambda y0, ts: spiral(ts, y0),
    jnp.linspace(0.0, 4.0, 41),
    lambda key, n: jax.random.uniform(key, (n, 2), minval=-1.5, maxval=1.5),
    2.0,
)
lv_problem = (
    lambda y0, ts: NeuralODE(lv.vector_field)(ts, y0, lv.params),
    jnp.linspace(0.0, 8.0, 41),
    lambda key, n: jax.random.uniform(key, (n, 2), minval=0.5, maxval=2.0),
    1.0,
)
problems = {  # name: (problem, cubic features)
    "cubic spiral, demo features (y^3)": (spiral_problem, True),
    "cubic spiral, plain MLP": (spiral_problem, False),
    "Lotka-Volterra, plain MLP": (lv_problem, False),
}
keys = ("spiral_cubic_features", "spiral_plain_mlp", "lotka_volterra_plain_mlp")


# One loss function per problem and one optimizer object for every run, made once: `fit` then
# reuses its compiled step across seeds instead of compiling it again.
def window_loss(ts_window):
    def loss_fn(m, batch, *, key):
        return jnp.mean(jax.vmap(lambda ys: trajectory_mse(m, ts_window, ys))(batch))

    return loss_fn


losses = {id(p): window_loss(p[1][:window] - p[1][0]) for p in (spiral_problem, lv_problem)}
optimizer = optax.adam(optax.cosine_decay_schedule(1e-2, steps))


def run(problem, cubic, key):
    simulate, ts, draw, scale = problem
    k_data, k_test, k_model, k_fit = jax.random.split(key, 4)
    y_train = jax.vmap(lambda y0: simulate(y0, ts))(draw(k_data, n_train))
    y_test = jax.vmap(lambda y0: simulate(y0, ts))(draw(k_test, n_test))
    model = NeuralODE(Field(2, 64, scale, cubic, key=k_model), solver=FixedGrid("rk4", 2))
    # Train on short windows (the systems are autonomous): long rollouts from a random
    # initialisation give poor gradients, short ones are easy and still pin down the field.
    segments = jnp.concatenate(
        [y_train[:, i : i + window] for i in range(0, len(ts) - window + 1, window // 2)]
    )
    model, history = fit(
        model,
        losses[id(problem)],
        segments,
        optimizer,
        steps=steps,
        batch_size=32,
        key=k_fit,
        progress=False,
    )
    adaptive = NeuralODE(model.vector_field)
    pred = jax.vmap(lambda ys: adaptive(ts, ys[0]))(y_test)
    rel = float(jnp.linalg.norm(pred - y_test) / jnp.linalg.norm(y_test))
    return rel, float(history[-1]["loss"]), y_test, pred


figure_runs = {}
ledger = Reproduction(
    "neural_ode_spirals",
    paper="On Neural Differential Equations",
    claim=(
        "A neural ODE trained on trajectories learns the cubic spiral dy/dt = A y^3 of the "
        "neural-ODE demo (Chen et al. 2018, as surveyed in Kidger's thesis): its rollouts from "
        "new initial conditions follow the true ones."
    ),
    paper_figures=[
        {
            "quantity": "learned vs true spiral trajectory",
            "value": "the learned trajectory follows the true one (qualitative; no number "
            "published)",
            "source": "torchdiffeq's ode_demo (Chen et al. 2018), surveyed in Kidger, On Neural "
            "Differential Equations (2021), neural ODE chapter",
        }
    ],
    config={
        "steps": steps,
        "n_train": n_train,
        "n_test": n_test,
        "window": window,
        "full": args.full,
    },  # fmt: skip
)


def run_seed(seed):
    result = {}
    for k, key, (name, (problem, cubic)) in zip(
        keys, jax.random.split(jax.random.key(seed), len(problems)), problems.items()
    ):
        rel, loss, y_test, pred = run(problem, cubic, key)
        print(
            f"seed {seed}, {name}: final window loss {loss:.2e}, held-out relative error {rel:.3f}"
        )
        result[f"{k}_rel_error"] = rel
        result[f"{k}_final_loss"] = loss
        if seed == args.seeds[0]:
            figure_runs[name] = (rel, y_test, pred)
    return result


for seed in args.seeds:
    ledger.seed(seed, run_seed)

# %% The ledger entry.
med = ledger.medians()
spiral_rel = med["spiral_cubic_features_rel_error"]
plain_rel = med["spiral_plain_mlp_rel_error"]
lv_rel = med["lotka_volterra_plain_mlp_rel_error"]
learned = spiral_rel < 0.15
ours = (
    f"median held-out relative error over {len(ledger.per_seed)} seeds: cubic spiral "
    f"{spiral_rel:.3f} with the demo's y^3 features, {plain_rel:.3f} with a plain MLP of the "
    f"state (same budget); Lotka-Volterra {lv_rel:.3f} with a plain MLP"
)
ledger.finish(
    ours=ours,
    status="partial",
    gap=(
        (
            "the demo's claim holds with its cubic input features"
            if learned
            else "even with the demo's cubic features the spiral is not learned at this budget"
        )
        + (
            "; a plain MLP of the state learns it too at this budget"
            if plain_rel < 0.15
            else "; a plain MLP of the state does not learn the spiral at the same budget"
        )
        + f" ({plain_rel:.3f}); the thesis's other examples (CDEs, SDEs) are separate examples "
        "without results files"
    ),  # fmt: skip
    differences=[
        f"{n_train} trajectories from random initial conditions in [-1.5, 1.5]^2 over t in "
        "[0, 4], trained on windows of 8 points; the demo uses one trajectory from (2, 0) "
        "over t in [0, 25]",
        f"{steps} Adam steps (cosine-decayed from 1e-2), batch 32; MLP 2-64-64-2",
        "scored by the relative L2 error of whole-horizon rollouts from held-out initial "
        "conditions; the demo only shows a figure",
    ],
)
print(ours)

# %%
if figure_runs:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    for ax, (name, (rel, y_test, pred)) in zip(axes, figure_runs.items()):
        for i in range(8):
            ax.plot(y_test[i, :, 0], y_test[i, :, 1], "k-", lw=1, alpha=0.6,
                    label="true" if i == 0 else None)  # fmt: skip
            ax.plot(pred[i, :, 0], pred[i, :, 1], "r--", lw=1,
                    label="neural ODE" if i == 0 else None)  # fmt: skip
        ax.set_title(f"{name}\nheld-out rel. error {rel:.3f} (seed {args.seeds[0]})", fontsize=10)
        ax.legend(loc="upper right", fontsize=8)
    os.makedirs("dynlearn-out", exist_ok=True)
    fig.tight_layout()
    fig.savefig("dynlearn-out/neural_ode_spirals.png", dpi=120)
    print("wrote dynlearn-out/neural_ode_spirals.png")
else:
    print("first seed resumed from its saved result: no figure (delete the .seeds folder to draw)")
