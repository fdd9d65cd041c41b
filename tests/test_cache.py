"""The persistent compilation cache helper: per-user folder, opt-out, the user's choice kept."""

import os
import subprocess
import sys

import jax
import pytest

from dynlearn import _cache


@pytest.fixture
def jax_cache_config():
    names = ("jax_compilation_cache_dir", "jax_persistent_cache_min_compile_time_secs")
    saved = {name: getattr(jax.config, name) for name in names}
    yield
    for name, value in saved.items():
        jax.config.update(name, value)


def test_opt_out_leaves_everything_alone(tmp_path, monkeypatch, jax_cache_config):
    monkeypatch.setenv("DYNLEARN_NO_COMPILATION_CACHE", "1")
    before = jax.config.jax_compilation_cache_dir
    assert _cache.enable_compilation_cache(tmp_path / "c") is None
    assert jax.config.jax_compilation_cache_dir == before
    assert not (tmp_path / "c").exists()


def test_sets_jax_config_once_jax_is_imported(tmp_path, monkeypatch, jax_cache_config):
    monkeypatch.delenv("DYNLEARN_NO_COMPILATION_CACHE", raising=False)
    jax.config.update("jax_compilation_cache_dir", None)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
    folder = _cache.enable_compilation_cache(tmp_path / "c")
    assert folder == tmp_path / "c" and folder.is_dir()
    assert (folder.stat().st_mode & 0o777) == 0o700
    assert jax.config.jax_compilation_cache_dir == str(folder)
    assert jax.config.jax_persistent_cache_min_compile_time_secs == _cache.MIN_COMPILE_SECONDS
    # A folder already chosen (by the user or an earlier call) is kept.
    assert _cache.enable_compilation_cache(tmp_path / "other") == folder
    assert not (tmp_path / "other").exists()


def test_default_folder_is_per_user(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _cache.default_cache_dir() == tmp_path / "dynlearn" / "jax"


def test_before_jax_import_goes_through_the_environment(tmp_path):
    # In a fresh interpreter (as the `dynlearn` command starts): JAX reads the variables at import,
    # and subprocesses of the command inherit them.
    code = (
        "import os, sys\n"
        "from dynlearn import _cache\n"
        "assert 'jax' not in sys.modules\n"
        f"print(_cache.enable_compilation_cache({str(tmp_path / 'c')!r}))\n"
        "import jax\n"
        "print(jax.config.jax_compilation_cache_dir)\n"
        "print(os.environ['JAX_COMPILATION_CACHE_DIR'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_COMPILATION", "DYNLEARN"))}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(tmp_path / "c")] * 3
