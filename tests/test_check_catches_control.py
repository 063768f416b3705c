"""The regression gate on real records: it passes a method against its own runs and fails a
deliberately broken one.

The records are committed, measured runs: those of the power study under ``results/power/``
(``results/power/README.md`` gives the command) and those of the protocol search under
``results/protocol-search/`` (``docs/protocol-search.md``). A break is simulated the way a code
change would produce it: the runs of the broken variant are given the identity (config, hash,
run ids) of the method they claim to be, so ``bench check`` sees the same config with other
numbers. ``bench check`` must exit 1 on each break:

* SL whose labels are silently dropped to one task per image (the positive control's one-label
  runs presented as full-label SL);
* a cross-task method whose pairing is destroyed: the geometric oracle's negative control
  (``oracle-geometry-shuffled``, every row's target from another image, everything else equal)
  presented as the oracle, on the protocol-search profile ``c6-32x64-s3-w25`` at 8 seeds, where
  the oracle beats its control (search 2, step 1: Δm +3.31, Holm p = 0.0011; normals +2.0°).

XTC checked against ``xtc-shuffled`` is *not* caught: on ``c6`` the two are equivalent on Δm
(``results/protocol-search/c6-study-8seeds-onelabel.md``), and on ``quick`` XTC's mapping collapses, so
no test can honestly demand it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench.cli import main

RESULTS = Path(__file__).resolve().parents[1] / "results"
POWER = RESULTS / "power"
SEARCH = RESULTS / "protocol-search"
#: the search profile on which the oracle is separated from its control (8 seeds)
SEARCH_GROUP = "c6-32x64-s3-w25-"
DS = "synthetic-nyuv2"
IDENTITY = ("run_id", "group_id", "config_hash", "spec", "config", "method_info", "mask")


def _records(method: str, regime: str, store: Path = POWER, group: str = "",
             seeds: int = 5) -> dict[int, Path]:
    folder = store / "runs" / DS / regime / method
    out = {}
    for path in sorted(folder.glob(f"{group}*/record.json")):
        out[int(json.loads(path.read_text())["spec"]["seed"])] = path
    if len(out) < seeds:
        pytest.fail(f"the committed records of {method}@{regime} ({group or 'all'}) are missing "
                    f"under {folder}")
    return out


def _copy(path: Path, root: Path, store: Path = POWER) -> None:
    target = root / path.relative_to(store)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, target)


def _disguise(broken: dict[int, Path], genuine: dict[int, Path], root: Path,
              store: Path = POWER) -> None:
    """Write the ``broken`` runs under the identity of the ``genuine`` ones, seed by seed."""
    for seed, path in broken.items():
        real = json.loads(genuine[seed].read_text())
        record = json.loads(path.read_text())
        record.update({key: real[key] for key in IDENTITY if key in real})
        target = root / genuine[seed].relative_to(store)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(record))


def _check(candidate: Path, reference: Path, regime: str, method: str = "sl") -> int:
    return main(["check", "--dataset", DS, "--method", method, "--regimes", regime,
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


@pytest.fixture()
def oracle_stores(tmp_path):
    """The oracle's 8 seeds as the reference; the same runs, and its control disguised as it."""
    oracle = _records("oracle-geometry", "onelabel", SEARCH, SEARCH_GROUP, seeds=8)
    shuffled = _records("oracle-geometry-shuffled", "onelabel", SEARCH, SEARCH_GROUP, seeds=8)
    baseline = _records("sl", "full", SEARCH, SEARCH_GROUP, seeds=8)
    reference, honest, broken = tmp_path / "ref", tmp_path / "honest", tmp_path / "broken"
    for store in (reference, honest, broken):
        for path in baseline.values():
            _copy(path, store, SEARCH)
    for path in oracle.values():
        _copy(path, reference, SEARCH)
        _copy(path, honest, SEARCH)
    _disguise(shuffled, oracle, broken, SEARCH)
    return reference, honest, broken


def test_check_passes_the_oracle_against_its_own_runs(oracle_stores):
    reference, honest, _ = oracle_stores
    assert _check(honest, reference, "onelabel", "oracle-geometry") == 0


def test_check_fails_the_oracle_whose_pairing_is_destroyed(oracle_stores, capsys):
    reference, _, broken = oracle_stores
    assert _check(broken, reference, "onelabel", "oracle-geometry") == 1
    out = capsys.readouterr().out
    # measured: normals 38.15° against 36.15° (Welch p = 1.3e-4), Δm −13.5 against −10.2 (p = 0.02)
    assert "oracle-geometry @ onelabel, normal/mean: worse" in out
    assert "REGRESSION" in out
