"""dynlearn.plot: figures have the expected panels, artists and limits; no global state moves."""

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from dynlearn import plot


def _orbit(n=400, scale=1.0, shift=0.0, dim=3):
    t = np.linspace(0.0, 20.0, n)
    columns = [np.sin(t * (k + 1)) * (k + 1) for k in range(dim)]
    return np.stack(columns, axis=1) * scale + shift


def test_attractor_3d_shares_limits_and_labels():
    true, learned = _orbit(), _orbit(scale=1.3, shift=0.5)
    fig = plot.attractor(true, learned)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    a, b = fig.axes
    assert a.name == b.name == "3d"
    for get in ("get_xlim", "get_ylim", "get_zlim"):
        assert getattr(a, get)() == pytest.approx(getattr(b, get)())
    # The shared limits cover both orbits: the learned one is larger and shifted.
    low, high = a.get_xlim()
    assert low <= learned[:, 0].min() and high >= learned[:, 0].max()
    assert [a.get_xlabel(), a.get_ylabel(), a.get_zlabel()] == ["x", "y", "z"]
    assert [b.get_xlabel(), b.get_ylabel(), b.get_zlabel()] == ["x", "y", "z"]
    assert [a.get_title(), b.get_title()] == ["true", "learned"]


def test_attractor_2d_several_models_and_errors():
    true = _orbit(dim=5)
    fig = plot.attractor(true, {"m1": true * 0.5, "m2": true * 1.4}, dims=(0, 4))
    assert [ax.get_title() for ax in fig.axes] == ["true", "m1", "m2"]
    assert all(ax.name == "rectilinear" for ax in fig.axes)
    assert fig.axes[0].get_xlabel() == "x[0]" and fig.axes[0].get_ylabel() == "x[4]"
    ylims = {ax.get_ylim() for ax in fig.axes}
    assert len(ylims) == 1
    assert fig.axes[0].get_ylim()[1] >= 1.4 * true[:, 4].max()
    with pytest.raises(ValueError, match="state dimension"):
        plot.attractor(true, true[:, :3])
    with pytest.raises(ValueError, match="dims"):
        plot.attractor(true, dims=(0, 7))


def test_attractor_ignores_non_finite_points_for_limits():
    learned = _orbit()
    learned[-5:] = np.nan
    learned[-8] = np.inf
    fig = plot.attractor(_orbit(), learned)
    assert np.all(np.isfinite(fig.axes[0].get_xlim()))


def test_attractor_blown_up_orbit_does_not_squash_the_true_one():
    true = _orbit()
    fig = plot.attractor(true, true * 1e6)
    low, high = fig.axes[0].get_xlim()
    span = np.ptp(true[:, 0])
    assert high - low <= 2.2 * span
    assert fig.axes[1].get_xlim() == (low, high)


def test_forecast_marks_valid_time_in_lyapunov_units():
    truth = _orbit(n=200)
    pred = truth + 0.1
    fig = plot.forecast(truth, pred, dt=0.02, lyapunov_time=1 / 0.906, valid_time=1.7)
    assert len(fig.axes) == 3
    for ax in fig.axes:
        lines = [ln for ln in ax.get_lines() if ln.get_label() == "valid time"]
        assert len(lines) == 1
        assert np.allclose(lines[0].get_xdata(), 1.7)
    # The time axis is in Lyapunov times: the last row sits at (n - 1) dt lambda_max.
    true_line = next(ln for ln in fig.axes[0].get_lines() if ln.get_label() == "true")
    assert true_line.get_xdata()[-1] == pytest.approx(199 * 0.02 * 0.906)
    assert fig.axes[-1].get_xlabel() == "Lyapunov times"
    # The legend sits outside the data (anchored right of the first panel).
    legend = fig.axes[0].get_legend()
    assert legend is not None
    box = legend.get_bbox_to_anchor().transformed(fig.axes[0].transAxes.inverted())
    assert box.x0 >= 1.0


def test_forecast_blown_up_model_runs_off_the_panel():
    truth = _orbit(n=100)
    fig = plot.forecast(truth, {"ok": truth * 1.2, "bad": truth * 1e8}, dt=0.1)
    for c, ax in enumerate(fig.axes):
        low, high = ax.get_ylim()
        span = np.ptp(truth[:, c])
        assert high - low <= 2.2 * span
        assert high >= 1.2 * truth[:, c].max()  # the slightly too large forecast still fits


def test_forecast_several_models_and_context():
    truth = _orbit(n=100, dim=2)
    fig = plot.forecast(
        truth,
        {"a": truth * 1.1, "b": truth * 0.9},
        dt=0.1,
        valid_time={"a": 2.0, "b": 3.0},
        context=_orbit(n=30, dim=2),
    )
    labels = [ln.get_label() for ln in fig.axes[0].get_lines()]
    assert labels == ["context", "true", "a", "b", "valid time (a)", "valid time (b)"]
    context = fig.axes[0].get_lines()[0]
    assert context.get_xdata()[-1] == pytest.approx(-0.1)
    assert fig.axes[-1].get_xlabel() == "time"
    with pytest.raises(ValueError, match="not forecasts"):
        plot.forecast(truth, truth, valid_time={"nope": 1.0})
    with pytest.raises(ValueError, match="shape"):
        plot.forecast(truth, truth[:50])


def test_lyapunov_spectrum_sorted_with_dimension():
    fig = plot.lyapunov_spectrum(
        {"true": [-14.57, 0.0, 0.906], "learned": [0.8, 0.0, -13.0]}, reference=[0.906, 0, -14.57]
    )
    (ax,) = fig.axes
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    true = next(v for k, v in lines.items() if k.startswith("true"))
    assert np.allclose(true.get_ydata(), [0.906, 0.0, -14.57])
    assert "D_KY = 2.06" in true.get_label()
    assert any(k.startswith("reference") for k in lines)


def test_koopman_spectrum_residual_colours_and_pseudospectrum():
    lam = np.exp(1j * np.linspace(0.0, 2.0, 6))
    res = np.array([1e-9, 1e-7, 1e-5, 1e-3, 1e-2, 1e-1])
    xs = np.linspace(-1.5, 1.5, 40)
    grid = xs[None, :] + 1j * xs[:, None]
    values = np.min(np.abs(grid[..., None] - lam), axis=-1)
    fig = plot.koopman_spectrum(lam, res, pseudospectrum=(grid, values), threshold=1e-4)
    ax, colourbar = fig.axes
    assert colourbar.get_ylabel() == "residual"
    hollow, filled = ax.collections[-2], ax.collections[-1]
    assert len(filled.get_offsets()) == 3 and len(hollow.get_offsets()) == 3
    assert np.allclose(filled.get_array(), res[:3])
    contour_sets = [c for c in ax.collections if hasattr(c, "levels")]
    assert contour_sets and list(contour_sets[0].levels) == [0.01, 0.05, 0.1, 0.25]
    with pytest.raises(ValueError, match="residuals shape"):
        plot.koopman_spectrum(lam, res[:3])


def test_koopman_spectrum_takes_a_decomposition():
    class Decomposition:
        eigenvalues = np.array([0.5 + 0.1j, -0.2 + 0.0j])
        residuals = np.array([1e-6, 1e-2])
        continuous = True

    fig = plot.koopman_spectrum(Decomposition())
    ax = fig.axes[0]
    # A generator gets the imaginary axis (a vertical line at 0), not the unit circle.
    assert any(np.allclose(ln.get_xdata(), 0.0) for ln in ax.get_lines())
    assert len(fig.axes) == 2


def test_pinn_field_panels_share_colour_scale():
    t, x = np.linspace(0.0, 1.0, 30), np.linspace(-1.0, 1.0, 40)
    ref = np.sin(np.pi * x)[None, :] * np.exp(-t)[:, None]
    pred = ref * 1.5
    fig = plot.pinn_field(pred, ref, t=t, x=x)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 3
    assert images[0].get_clim() == images[1].get_clim()
    assert images[0].get_clim()[1] == pytest.approx(pred.max())
    assert images[0].get_extent() == [0.0, 1.0, -1.0, 1.0]
    assert np.allclose(images[2].get_array(), np.abs(pred - ref).T)
    assert "relative L2 5.00e-01" in fig.axes[2].get_title()
    with pytest.raises(ValueError, match="do not match"):
        plot.pinn_field(pred, ref, t=t[:5], x=x)


def test_history_panels_from_fit_records():
    records = [
        {"step": s, "loss": 1.0 / s, "val_loss": 2.0 / s, "lr": 1e-3 / s, "weight": 1.0}
        for s in (10, 20, 30)
    ]
    records[0]["val_loss"] = 0.0  # a term that is exactly zero: no log scale trouble
    fig = plot.history(records)
    loss_ax, lr_ax = fig.axes
    assert [ln.get_label() for ln in loss_ax.get_lines()] == ["loss", "val_loss"]
    assert loss_ax.get_yscale() == "log"
    assert list(loss_ax.get_lines()[0].get_xdata()) == [10, 20, 30]
    assert lr_ax.get_ylabel() == "lr"
    with pytest.raises(ValueError, match="no records"):
        plot.history([])
    with pytest.raises(ValueError, match="keys"):
        plot.history(records, keys=["nope"])


def test_benchmark_table_bold_best_per_group():
    rows = [
        {"system": "Lorenz", "model": "esn", "vpt_nrmse": "3.2"},
        {"system": "Lorenz", "model": "nvar", "vpt_nrmse": "5.1"},
        {"system": "Rossler", "model": "esn", "vpt_nrmse": "7.0"},
        {"system": "Rossler", "model": "nvar", "vpt_nrmse": "2.0"},
    ]
    fig = plot.benchmark_table(
        rows, formats={"vpt_nrmse": ".2f"}, best={"vpt_nrmse": "max"}, group="system"
    )
    cells = fig.axes[0].tables[0].get_celld()
    assert cells[(2, 2)].get_text().get_text() == "5.10"
    bold = {r for (r, c), cell in cells.items() if c == 2 and r > 0
            and cell.get_text().get_fontweight() == "bold"}
    assert bold == {2, 3}
    with pytest.raises(ValueError, match="'max' or 'min'"):
        plot.benchmark_table(rows, best={"vpt_nrmse": "most"})


def test_figures_show_in_jupyter_without_pyplot():
    fig = plot.lyapunov_spectrum([0.9, 0.0, -14.0])
    assert fig._repr_png_().startswith(b"\x89PNG")


def test_draws_into_a_given_figure():
    fig = Figure()
    assert plot.history([{"step": 1, "loss": 1.0}], fig=fig) is fig
    with pytest.raises(TypeError, match="Figure"):
        plot.history([{"step": 1, "loss": 1.0}], fig="no")


def _every_plot():
    orbit = _orbit()
    lam = np.exp(1j * np.linspace(0.0, 2.0, 4))
    xs = np.linspace(-1.5, 1.5, 10)
    grid = xs[None, :] + 1j * xs[:, None]
    return [
        plot.attractor(orbit, orbit),
        plot.attractor(orbit, orbit, dims=(0, 1)),
        plot.forecast(orbit, orbit, dt=0.1, valid_time=1.0),
        plot.lyapunov_spectrum([0.9, 0.0, -14.0]),
        plot.koopman_spectrum(lam, np.ones(4) * 1e-3, pseudospectrum=(grid, np.abs(grid))),
        plot.pinn_field(orbit, orbit),
        plot.history([{"step": 1, "loss": 1.0}, {"step": 2, "loss": 0.5}]),
        plot.benchmark_table([{"a": 1.0, "b": "x"}]),
    ]


def _global_state():
    return matplotlib.get_backend(), dict(matplotlib.rcParams)


def _plt_figures():
    import matplotlib.pyplot as plt

    return plt.get_fignums()


@pytest.mark.slow
def test_plots_and_quickstart_leave_backend_and_rcparams(tmp_path, monkeypatch):
    # Not Agg (which CI sets): a function that forces Agg must show up as a change.
    import matplotlib.pyplot as plt

    monkeypatch.setenv("DYNLEARN_NO_COMPILATION_CACHE", "1")
    previous = matplotlib.get_backend()
    with matplotlib.rc_context():
        plt.switch_backend("svg")
        try:
            before, figures = _global_state(), _plt_figures()
            figs = _every_plot()
            assert all(isinstance(f, Figure) for f in figs)
            for fig in figs:
                fig.savefig(tmp_path / "check.png")
            assert _global_state() == before
            assert _plt_figures() == figures

            from dynlearn._quickstart import quickstart

            result = quickstart(steps=4, out=str(tmp_path))
            assert (tmp_path / "quickstart.png").stat().st_size > 10_000
            assert result["figure"] == str(tmp_path / "quickstart.png")
            assert _global_state() == before
            assert _plt_figures() == figures
        finally:
            plt.switch_backend(previous)
