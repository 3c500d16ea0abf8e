"""Reading a TOML config key by key: every mistake is one line naming its dotted key.

A parser keeps one `Checker`, reads each table through it (a wrong value is noted and its
default used, so reading goes on), then calls `raise_problems(source)`: the user gets every
mistake of the file at once, each as ``FILE: KEY: what is wrong``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

# A check reads one value: it returns what the config keeps, or raises ValueError whose
# text says what the value must be ("must be true or false").
Check = Callable[[Any], Any]


class ConfigError(Exception):
    """A config file has mistakes; `problems` holds one "key: message" line per mistake."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" if source else p for p in problems))


def read_toml(path: Path) -> dict[str, Any]:
    """The file's TOML tables; ConfigError (one line, naming the file) when unreadable."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [f"cannot read the file ({exc})"]) from None
    return parse_toml(text, str(path))


def parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None
    except RecursionError:  # tomllib recurses once per nested [ or {
        raise ConfigError(source, ["not valid TOML: arrays or tables nested too deeply"]) from None


KIND_NAMES = {
    str: "a text in quotes",
    int: "a whole number",
    bool: "true or false",
    dict: "a table",
    list: "a list",
}


class Checker:
    """Collects one "key: message" line per mistake while a config is read."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, key: str, message: str) -> None:
        self.problems.append(f"{key}: {message}")

    def raise_problems(self, source: str) -> None:
        """ConfigError listing every mistake noted so far, if any."""
        if self.problems:
            raise ConfigError(source, list(self.problems))

    def unknown_keys(self, prefix: str, table: Mapping[str, Any], known: Iterable[str]) -> None:
        expected = ", ".join(sorted(known))
        for key in table:
            if key not in known:
                self.add(f"{prefix}{key}", f"unknown key (expected one of: {expected})")

    def table(self, value: Any, key: str) -> dict[str, Any] | None:
        """`value` if it is a table, else None after noting it (None too when absent)."""
        if value is None:
            return None
        if not isinstance(value, dict):
            self.add(key, f"must be a table ([{key}])")
            return None
        return value

    def get(
        self,
        table: Mapping[str, Any],
        prefix: str,
        key: str,
        kind: type,
        default: Any = None,
        *,
        required: bool = False,
    ) -> Any:
        """The value of `key`, or `default` (after noting the problem) when it is missing
        although required, or of the wrong type."""
        if key not in table:
            if required or default is None:
                self.add(prefix + key, "is required")
            return default
        value = table[key]
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            self.add(prefix + key, f"must be {KIND_NAMES[kind]} (got {value!r})")
            return default
        if isinstance(value, str) and required and not value.strip():
            self.add(prefix + key, "must not be empty")
            return default
        return value

    def check(self, key: str, value: Any, check: Check, default: Any = None) -> Any:
        """`check(value)`, or `default` after noting the ValueError it raised."""
        try:
            return check(value)
        except ValueError as exc:
            self.add(key, str(exc))
            return default

    def fields(
        self,
        table: Mapping[str, Any],
        prefix: str,
        checks: Mapping[str, Check],
        *,
        report_unknown: bool = True,
    ) -> dict[str, Any]:
        """The table's keys that read well through their checks, in the file's order;
        the others noted (unknown keys too, unless `report_unknown` is false)."""
        values: dict[str, Any] = {}
        expected = ", ".join(sorted(checks))
        for key, value in table.items():
            check = checks.get(key)
            if check is None:
                if report_unknown:
                    self.add(prefix + key, f"unknown key (expected one of: {expected})")
                continue
            try:
                values[key] = check(value)
            except ValueError as exc:
                self.add(prefix + key, str(exc))
        return values


# -- checks shared by the parsers -----------------------------------------------------------


def text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string")
    return value


def texts(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of strings")
    return tuple(value)


def flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def positive_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError("must be a positive number")
    return float(value)
