"""The hub's settings: one line per mistake, naming the key or the variable to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from pvp_hub.config import load_hub_config
from pvp_tui.core.config import ConfigError


def test_nothing_configured_is_the_demo_on_sqlite_in_the_user_data_dir(tmp_path: Path) -> None:
    config = load_hub_config(None, env={})
    assert config.threads == 4
    assert config.is_default and config.database_url.startswith("sqlite:///")
    assert config.database_url.endswith("pvp-relais/hub.db")
    assert config.forwarded_allow_ips == () and config.host == "127.0.0.1"


def test_file_then_environment_then_options(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text(
        '[server]\nport = 9000\nhost = "0.0.0.0"\nforwarded_allow_ips = ["10.0.0.2"]\nthreads = 6\n'
        '[database]\nurl = "postgresql://hub@db/hub"\n[sync]\npull_page_size = 50\n'
    )
    config = load_hub_config(path, env={"PVP_HUB_PORT": "9100"}, host="127.0.0.2")
    assert (config.port, config.host, config.threads) == (9100, "127.0.0.2", 6)
    assert load_hub_config(path, env={"PVP_HUB_THREADS": "8"}).threads == 8
    assert config.database_url == "postgresql+psycopg://hub@db/hub"
    assert config.forwarded_allow_ips == ("10.0.0.2",)
    assert config.limits.pull_page_size == 50 and not config.is_default


def test_every_mistake_is_one_line_naming_its_key(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text(
        '[server]\nport = "80"\nforwarded_allow_ips = ["proxy.example"]\ncolour = 1\n'
        '[database]\nurl = "mysql://x"\n[sync]\nmax_body_bytes = 10\n[extra]\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_hub_config(path, env={"PVP_HUB_WORKERS": "many"})
    assert caught.value.problems == [
        "extra: unknown key (expected one of: database, server, sync)",
        "server.colour: unknown key (expected one of: forwarded_allow_ips, host, port, "
        "report_processes, threads, workers)",
        "database.url: must start with sqlite:/// (a file) or postgresql+psycopg:// (got "
        "'mysql://...')",
        "server.port: must be a whole number (got '80')",
        "PVP_HUB_WORKERS: must be a whole number (got 'many')",
        "server.forwarded_allow_ips: 'proxy.example' is not an IP address",
        "sync.max_body_bytes: must be between 1024 and 67108864 (got 10)",
    ]
    assert str(caught.value).startswith(f"{path}: extra: unknown key")


def test_a_bad_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_hub_config(tmp_path / "none.toml", env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_hub_config(broken, env={})
