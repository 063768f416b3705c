"""The regression gate catches a broken method: XTC checked against its negative control's runs.

The records under ``results/power/`` are the committed, measured runs of the power study on the
built-in benchmark (``results/power/README.md`` gives the command). Relabelling the
``xtc-shuffled`` runs as ``xtc``, with XTC's config and run identity, is what a code change
that silently destroys the cross-task pairing would produce: same config hash, other numbers.
``bench check`` must fail on them (exit 1) and pass on XTC's own runs (exit 0).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.cli import main

POWER = Path(__file__).resolve().parents[1] / "results" / "power"
DS, REGIME = "synthetic-nyuv2", "onelabel"


def _records(method: str, regime: str) -> dict[int, Path]:
    folder = POWER / "runs" / DS / regime / method
    out = {}
    for path in sorted(folder.glob("*/record.json")):
        out[int(json.loads(path.read_text())["spec"]["seed"])] = path
    return out


def _copy(path: Path, root: Path) -> None:
    target = root / path.relative_to(POWER)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, target)


@pytest.fixture()
def stores(tmp_path):
    xtc, shuffled, sl_full = (_records("xtc", REGIME), _records("xtc-shuffled", REGIME),
                              _records("sl", "full"))
    if not (xtc and shuffled and sl_full) or set(xtc) != set(shuffled):
        pytest.fail(f"the power-study records are missing under {POWER}")
    reference, honest, broken = tmp_path / "ref", tmp_path / "honest", tmp_path / "broken"
    for path in [*xtc.values(), *sl_full.values()]:
        for root in (reference, honest):
            _copy(path, root)
    for path in sl_full.values():
        _copy(path, broken)
    for seed, path in shuffled.items():
        genuine = json.loads(xtc[seed].read_text())
        record = json.loads(path.read_text())
        assert record["config"]["method"]["options"]["shuffle_targets"] is True
        for key in ("run_id", "group_id", "config_hash", "spec", "config", "method_info"):
            record[key] = genuine[key]
        target = broken / xtc[seed].relative_to(POWER)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(record))
    return reference, honest, broken


def _check(candidate: Path, reference: Path) -> int:
    return main(["check", "--dataset", DS, "--method", "xtc", "--regimes", REGIME,
                 "--baseline", "sl@full", "--results", str(candidate),
                 "--against", str(reference)])


def test_check_passes_xtc_against_its_own_runs(stores):
    reference, honest, _ = stores
    assert _check(honest, reference) == 0


def test_check_fails_xtc_whose_pairing_is_destroyed(stores, capsys):
    reference, _, broken = stores
    assert _check(broken, reference) == 1
    assert "worse" in capsys.readouterr().out
