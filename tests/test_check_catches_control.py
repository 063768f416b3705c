"""The regression gate on real records: it passes a method against its own runs and fails a
deliberately broken one.

The records under ``results/power/`` are the committed, measured runs of the power study on the
built-in benchmark (``results/power/README.md`` gives the command). A break is simulated the way
a code change would produce it: the runs of the broken variant are given the identity (config,
hash, run ids) of the method they claim to be, so ``bench check`` sees the same config with other
numbers. The break here is SL whose labels are silently dropped to one task per image (the
positive control's one-label runs presented as full-label SL). ``bench check`` must exit 1.

The issue's other example, XTC checked against its negative control (``xtc-shuffled``, the
cross-task pairing destroyed), is *not* caught on this benchmark: the power study measured no
difference between the two (README, "Power study"), so no test can honestly demand it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.cli import main

POWER = Path(__file__).resolve().parents[1] / "results" / "power"
DS = "synthetic-nyuv2"
IDENTITY = ("run_id", "group_id", "config_hash", "spec", "config", "method_info", "mask")


def _records(method: str, regime: str) -> dict[int, Path]:
    folder = POWER / "runs" / DS / regime / method
    out = {}
    for path in sorted(folder.glob("*/record.json")):
        out[int(json.loads(path.read_text())["spec"]["seed"])] = path
    if len(out) < 5:
        pytest.fail(f"the power-study records of {method}@{regime} are missing under {folder}")
    return out


def _copy(path: Path, root: Path) -> None:
    target = root / path.relative_to(POWER)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, target)


def _disguise(broken: dict[int, Path], genuine: dict[int, Path], root: Path) -> None:
    """Write the ``broken`` runs under the identity of the ``genuine`` ones, seed by seed."""
    for seed, path in broken.items():
        real = json.loads(genuine[seed].read_text())
        record = json.loads(path.read_text())
        record.update({key: real[key] for key in IDENTITY if key in real})
        target = root / genuine[seed].relative_to(POWER)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(record))


def _check(candidate: Path, reference: Path, regime: str) -> int:
    return main(["check", "--dataset", DS, "--method", "sl", "--regimes", regime,
                 "--baseline", "sl@full", "--results", str(candidate),
                 "--against", str(reference)])


@pytest.fixture()
def stores(tmp_path):
    full, one = _records("sl", "full"), _records("sl", "onelabel")
    reference, honest, broken = tmp_path / "ref", tmp_path / "honest", tmp_path / "broken"
    for path in full.values():
        _copy(path, reference)
        _copy(path, honest)
    _disguise(one, full, broken)
    return reference, honest, broken


def test_check_passes_full_label_sl_against_its_own_runs(stores):
    reference, honest, _ = stores
    assert _check(honest, reference, "full") == 0


def test_check_fails_sl_whose_labels_are_silently_dropped(stores, capsys):
    reference, _, broken = stores
    assert _check(broken, reference, "full") == 1
    assert "worse" in capsys.readouterr().out
