"""The hub's settings: one line per mistake, naming the key or the variable to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from pvp_hub.config import load_hub_config
from pvp_tui.core.config import ConfigError


def test_nothing_configured_is_the_demo_on_sqlite_in_the_user_data_dir(tmp_path: Path) -> None:
    config = load_hub_config(None, env={})
    assert config.threads == 4 and config.connections == 16
    assert config.is_default and config.database_url.startswith("sqlite:///")
    assert config.database_url.endswith("pvp-relais/hub.db")
    assert config.forwarded_allow_ips == () and config.host == "127.0.0.1"
    assert not config.access_log  # the reverse proxy logs each request


def test_the_access_log_from_the_file_or_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text("[server]\naccess_log = true\n")
    assert load_hub_config(path, env={}).access_log
    assert not load_hub_config(path, env={"PVP_HUB_ACCESS_LOG": "false"}).access_log
    assert load_hub_config(None, env={"PVP_HUB_ACCESS_LOG": "1"}).access_log
    with pytest.raises(ConfigError) as caught:
        load_hub_config(None, env={"PVP_HUB_ACCESS_LOG": "maybe"})
    assert caught.value.problems == ["PVP_HUB_ACCESS_LOG: must be true or false (got 'maybe')"]
    path.write_text('[server]\naccess_log = "yes"\n')
    with pytest.raises(ConfigError) as caught:
        load_hub_config(path, env={})
    assert caught.value.problems == ["server.access_log: must be true or false (got 'yes')"]


def test_file_then_environment_then_options(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text(
        '[server]\nport = 9000\nhost = "0.0.0.0"\nforwarded_allow_ips = ["10.0.0.2"]\nthreads = 6\n'
        '[database]\nurl = "postgresql://hub@db/hub"\n[sync]\npull_page_size = 50\n'
    )
    config = load_hub_config(path, env={"PVP_HUB_PORT": "9100"}, host="127.0.0.2")
    assert (config.port, config.host, config.threads) == (9100, "127.0.0.2", 6)
    assert load_hub_config(path, env={"PVP_HUB_THREADS": "8"}).threads == 8
    assert load_hub_config(path, env={"PVP_HUB_CONNECTIONS": "32"}).connections == 32
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
        "extra: unknown key (expected one of: database, documents, server, sync)",
        "server.colour: unknown key (expected one of: access_log, connections, "
        "forwarded_allow_ips, host, port, report_processes, threads, workers)",
        "database.url: must start with sqlite:/// (a file) or postgresql+psycopg:// (got "
        "'mysql://...')",
        "server.port: must be a whole number (got '80')",
        "PVP_HUB_WORKERS: must be a whole number (got 'many')",
        "server.forwarded_allow_ips: 'proxy.example' is not an IP address",
        "sync.max_body_bytes: must be between 1024 and 67108864 (got 10)",
    ]
    assert str(caught.value).startswith(f"{path}: extra: unknown key")


def test_documents_settings_from_the_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text(
        '[documents]\nkey_file = "/etc/pvp-relais/documents.key"\nmax_bytes = 2048\n'
        "keep_after_receipt_minutes = 90\n"
    )
    config = load_hub_config(path, env={"PVP_HUB_DOCUMENTS_MAX_PAGES": "12"})
    papers = config.documents
    assert papers.key_file == Path("/etc/pvp-relais/documents.key")
    assert (papers.max_bytes, papers.max_pages, papers.keep_after_receipt_minutes) == (2048, 12, 90)
    defaults = load_hub_config(None, env={}).documents
    assert defaults.key_file is None and defaults.max_bytes == 30 * 1024 * 1024
    assert defaults.keep_after_receipt_minutes is None  # the end of the site's day
    path.write_text("[documents]\nkeep_after_receipt_minutes = 20000\nsize = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_hub_config(path, env={"PVP_HUB_DOCUMENTS_MAX_BYTES": "huge"})
    assert caught.value.problems == [
        "documents.size: unknown key (expected one of: keep_after_receipt_minutes, key_file, "
        "max_bytes, max_pages)",
        "PVP_HUB_DOCUMENTS_MAX_BYTES: must be a whole number (got 'huge')",
        "documents.keep_after_receipt_minutes: must be between 0 and 10080 (got 20000)",
    ]


def test_a_bad_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_hub_config(tmp_path / "none.toml", env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_hub_config(broken, env={})
