"""Data parallelism: fit over a 4-device CPU mesh gives the losses of a one-device run."""

import json
import os
import subprocess
import sys
import textwrap

_SCRIPT = textwrap.dedent(
    """
    import json
    import equinox as eqx, jax, jax.numpy as jnp, optax
    from dynlearn.train import data_mesh, fit

    assert len(jax.devices()) == 4, jax.devices()
    key = jax.random.key(0)
    x = jax.random.normal(key, (256, 3))
    y = jnp.sin(x[:, :1]) + x[:, 1:2] * x[:, 2:]
    model = eqx.nn.MLP(3, 1, 16, 2, key=jax.random.key(1))

    def loss(m, batch, *, key):
        xb, yb = batch
        return jnp.mean((jax.vmap(m)(xb) - yb) ** 2)

    kw = dict(steps=40, batch_size=32, key=jax.random.key(2), progress=False)
    m4, h4 = fit(model, loss, (x, y), optax.adam(1e-2), mesh=data_mesh(), **kw)
    m1, h1 = fit(model, loss, (x, y), optax.adam(1e-2), mesh=None, **kw)
    shards = len(m4.layers[0].weight.sharding.device_set)
    print(json.dumps({"l4": h4.column("loss"), "l1": h1.column("loss"), "devices": shards}))
    """
)


def test_four_device_mesh_matches_one_device():
    env = dict(os.environ)
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["devices"] == 4  # parameters live replicated on all four devices
    l4, l1 = result["l4"], result["l1"]
    assert len(l4) == len(l1) == 40
    for a, b in zip(l4, l1):
        assert abs(a - b) <= 1e-4 * max(1.0, abs(b)), (a, b)
    assert l4[-1] < l4[0]
