"""What a launcher needs to know about the cluster: partition, resources, limits.

The values come from a launcher profile (a JSON object, ``--launcher-profile FILE.json``) and
from command-line options, which win over the profile. Every key and value is checked before
anything is submitted: an unknown key names the closest valid one, a bad value says what was
expected (:class:`~bench.errors.BenchError`, exit 2).

A launcher profile::

    {"partition": "gpu", "gpus_per_run": 1, "cpus_per_run": 8, "mem_gb": 32,
     "time_min": 720, "account": "my-project", "qos": "normal",
     "array_parallelism": 64, "max_requeues": 10,
     "setup": ["module load cuda/12.1", "source ~/venvs/bench/bin/activate"]}
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from bench.errors import BenchError


@dataclass
class LauncherOptions:
    """The resources of every run of a submitted grid (one array task per run)."""

    partition: str | None = None
    gpus_per_run: int = 1
    cpus_per_run: int = 4
    mem_gb: float | None = None
    time_min: int = 24 * 60
    account: str | None = None
    qos: str | None = None
    #: most array tasks running at once (Slurm's ``--array=…%N``)
    array_parallelism: int = 256
    #: how often a run may hit its time limit and be requeued (preemptions are not counted)
    max_requeues: int = 10
    #: seconds between the warning signal (USR2) and the end of the time limit
    signal_delay_s: int = 120
    #: shell lines run before the job's Python (modules, environments)
    setup: list[str] = field(default_factory=list)
    #: where submitit keeps its pickles and logs (default ``RESULTS/submitit``)
    folder: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _positive_int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BenchError(f"Launcher option {key}={value!r} is not valid: expected an integer ≥ 1.")
    return value


def _non_negative_int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BenchError(f"Launcher option {key}={value!r} is not valid: expected an integer ≥ 0.")
    return value


def _positive_number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise BenchError(f"Launcher option {key}={value!r} is not valid: expected a number > 0.")
    return float(value)


def _name(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise BenchError(f"Launcher option {key}={value!r} is not valid: expected a name "
                         "without spaces.")
    return value


def _lines(key: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BenchError(f"Launcher option {key}={value!r} is not valid: expected a list of "
                         "shell lines.")
    return list(value)


def _folder(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BenchError(f"Launcher option {key}={value!r} is not valid: expected a path.")
    return value


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "partition": _name, "gpus_per_run": _non_negative_int, "cpus_per_run": _positive_int,
    "mem_gb": _positive_number, "time_min": _positive_int, "account": _name, "qos": _name,
    "array_parallelism": _positive_int, "max_requeues": _non_negative_int,
    "signal_delay_s": _positive_int, "setup": _lines, "folder": _folder,
}
assert set(_CHECKS) == {f.name for f in fields(LauncherOptions)}


_TIME = re.compile(r"^(?:(?P<days>\d+)-)?(?P<h>\d+):(?P<m>\d{1,2}):(?P<s>\d{1,2})$")


def parse_time(text: str) -> int:
    """A time limit in minutes from ``720``, ``12h``, ``90m``, ``12:00:00`` or ``1-00:00:00``."""
    raw = text.strip().lower()
    minutes: float | None = None
    if (m := _TIME.match(raw)) is not None:
        minutes = (int(m["days"] or 0) * 1440 + int(m["h"]) * 60 + int(m["m"])
                   + int(m["s"]) / 60)
    else:
        scale = {"h": 60.0, "m": 1.0}.get(raw[-1:], 1.0)
        try:
            minutes = float(raw[:-1] if raw[-1:] in ("h", "m") else raw) * scale
        except ValueError:
            minutes = None
    if minutes is None or not math.isfinite(minutes):
        raise BenchError(f"Bad time limit '{text}'.",
                         "Give minutes (720), hours (12h), h:m:s (12:00:00) or d-h:m:s "
                         "(1-00:00:00).")
    if minutes < 1:
        raise BenchError(f"Time limit '{text}' is shorter than a minute.")
    return int(round(minutes))


def check_options(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Validated launcher options from ``data`` (a profile file or the command line)."""
    if not isinstance(data, Mapping):
        raise BenchError(f"{where} is not a JSON object of launcher options.")
    out = {}
    for key, value in data.items():
        if key not in _CHECKS:
            close = difflib.get_close_matches(key, list(_CHECKS), n=1, cutoff=0.5)
            raise BenchError(f"Unknown launcher option '{key}' in {where}.",
                             (f"Did you mean '{close[0]}'? " if close else "")
                             + f"Valid options: {', '.join(_CHECKS)}.")
        out[key] = value if value is None and key in ("partition", "account", "qos", "mem_gb",
                                                      "folder") else _CHECKS[key](key, value)
    return out


def read_launcher_profile(path: Path) -> dict[str, Any]:
    """The validated options of a launcher profile file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise BenchError(f"Launcher profile {path} does not exist.") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BenchError(f"Cannot read launcher profile {path}: {exc}") from None
    return check_options(data, f"launcher profile {path}")


def launcher_options(profile: Path | None, overrides: Mapping[str, Any]) -> LauncherOptions:
    """The profile's options (if any), then every override that is not ``None``."""
    values = read_launcher_profile(profile) if profile else {}
    values.update(check_options({k: v for k, v in overrides.items() if v is not None},
                                "the command line"))
    return LauncherOptions(**values)


