"""A new method is one file: discovered without an import list, then listed, run, tabled, drawn."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import methods
from bench.registry import METHODS, method_info, method_names, method_sets, unregister

ROOT = Path(__file__).resolve().parents[1]

PLUGIN = textwrap.dedent('''
    """A toy method: SL plus a small penalty on the depth prediction (for the plugin tests)."""

    import torch

    from bench.metadata import MethodInfo
    from bench.registry import register_method
    from bench.method.base import PartialLabelMethod, TrainingViews


    @register_method("{name}", MethodInfo(
        summary="toy: SL plus an L2 penalty on depth", display="Toy Method", short="Toy",
        family="{name}", colour="#123456", order=95, sets=("toys",)))
    class ToyMethod(PartialLabelMethod):
        """Toy: SL plus an L2 penalty on depth."""

        def extra_losses(self, views: TrainingViews) -> dict[str, torch.Tensor]:
            return {{"loss_toy": 1e-3 * views.main.preds["depth"].pow(2).mean()}}
''')


def test_every_module_of_the_methods_package_is_imported():
    method_names()  # the first lookup imports the package's modules
    files = {p.stem for p in Path(methods.__file__).parent.glob("*.py") if p.stem != "__init__"}
    assert files <= {m.split(".")[-1] for m in sys.modules if m.startswith("methods.")}


def test_a_new_file_in_the_package_registers_itself(tmp_path, monkeypatch):
    name = "zz_toy_in_package"
    (tmp_path / f"{name}.py").write_text(PLUGIN.format(name=name))
    monkeypatch.setattr(methods, "__path__", [*methods.__path__, str(tmp_path)])
    try:
        METHODS.rediscover()
        assert name in method_names()
        info = method_info(name)
        assert (info.display, info.colour, info.summary) == (
            "Toy Method", "#123456", "toy: SL plus an L2 penalty on depth")
        assert method_sets()["toys"] == [name] and name in method_sets()["all"]
    finally:
        unregister(METHODS, name)
        sys.modules.pop(f"methods.{name}", None)


def _bench(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_plugin_method_is_listed_run_tabled_and_drawn(nyuv2_root, tmp_path):
    plugin = tmp_path / "toy_plugin.py"
    plugin.write_text(PLUGIN.format(name="toy"))
    env = {**os.environ, "BENCH_PLUGINS": str(plugin)}
    results = tmp_path / "res"

    listed = _bench(["list"], env)
    assert listed.returncode == 0, listed.stderr
    assert "toy" in listed.stdout and "toy: SL plus an L2 penalty on depth" in listed.stdout

    run = _bench(["run", "--methods", "sl,toy", "--dataset", "nyuv2", "--regimes", "onelabel",
                  "--seeds", "0", "--profile", "smoke", "--set", "train.epochs=1", "--jobs", "1",
                  "--data-root", str(nyuv2_root), "--results", str(results), "--no-table"], env)
    assert run.returncode == 0, run.stdout + run.stderr

    # the report reads records only: no plugin in this process, and none needed
    assert "toy" not in method_names()
    table = _bench(["table", "--dataset", "nyuv2", "--profile", "smoke", "--format", "markdown",
                    "--baseline", "sl", "--results", str(results)],
                   {k: v for k, v in env.items() if k != "BENCH_PLUGINS"})
    assert table.returncode == 0, table.stderr
    assert "| Toy Method |" in table.stdout

    from bench.report.bars import bar_figure
    from bench.report.query import TableRequest, build_summary

    summary, _ = build_summary(TableRequest("nyuv2", results, profile="smoke", baseline="sl"))
    fig = bar_figure(summary, "semantic/mIoU")
    bars = {p.get_gid(): p for p in fig.axes[0].patches if p.get_gid()}
    toy = bars["onelabel|toy"]
    assert toy.get_facecolor()[:3] == pytest.approx((0x12 / 255, 0x34 / 255, 0x56 / 255))
    assert "Toy" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
