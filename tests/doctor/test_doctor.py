"""`pvp doctor` finds each usual mistake, says what to do, and exits 0 only when all is
well: config, the shared database's permissions, each kiosk's bridge, the terminal."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
from pathlib import Path

import pytest

from pvp_tui.core import doctor
from pvp_tui.core.config import kiosks_from_config, load_config
from pvp_tui.core.doctor import Finding
from tests.support.disks import small_disk
from tests.support.terminals import in_terminal, tmux

from .conftest import STAFF_GROUP, Kiosk, SharedSite, bridge, self_signed

pytestmark = pytest.mark.timeout(90)


def _exited(screen: str) -> bool:
    return re.search(r"^exit=\d", screen, re.MULTILINE) is not None


def problems(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if not f.ok]


# --------------------------------------------------------------------------- all well
def test_all_well_exits_0(shared: SharedSite) -> None:
    result = shared.pvp("doctor", "--group", STAFF_GROUP)
    assert result.returncode == 0, result.stdout
    assert "✗" not in result.stdout
    assert "Tout va bien." in result.stdout  # French by default
    assert "Relais de test" in result.stdout


def test_all_well_in_an_80x24_terminal(shared: SharedSite) -> None:
    with tmux() as term:
        # PATH in the command: tmux gives a pane its client's PATH, whatever -e says
        pane = term.new_session(
            in_terminal(["sh"], PATH=shared.env()["PATH"]), {**shared.env(), "PS1": "$ "}
        )
        term.wait_for(pane, "$", what="the shell prompt")
        term.type(pane, "pvp doctor; echo exit=$?")
        term.keys(pane, "Enter")
        screen = term.wait_for(pane, _exited, what="doctor's verdict")
        assert "Tout va bien." in screen and "exit=0" in screen
        assert "xterm-256color" in screen and "80x24" in screen


# --------------------------------------------------------------------------- config
def test_config_mistake_names_the_key(shared: SharedSite) -> None:
    shared.config.write_text(shared.config.read_text().replace("kiosk_count = 1", "kiosks = 1"))
    result = shared.pvp("doctor")
    assert result.returncode == 1
    assert "site.kiosks" in result.stdout and "✗" in result.stdout
    assert str(shared.config) in result.stdout  # where to fix it


def test_missing_config_file(shared: SharedSite) -> None:
    result = shared.pvp("doctor", PVP_CONFIG=str(shared.root / "nope.toml"))
    assert result.returncode == 1
    assert "nope.toml" in result.stdout


def test_no_config_means_the_demo_site(shared: SharedSite) -> None:
    env = shared.env()
    del env["PVP_CONFIG"]
    config, findings = doctor.check_config(None)
    assert config is not None and problems(findings)
    assert "/etc/xdg/pvp-relais/config.toml" in findings[0].fix or "pvp-relais" in findings[0].fix


# --------------------------------------------------------------------------- database
def test_database_not_group_writable(shared: SharedSite) -> None:
    shared.db.chmod(0o640)
    result = shared.pvp("doctor", "--group", STAFF_GROUP)
    assert result.returncode == 1
    assert f"chmod g+rw {shared.db}" in result.stdout


def test_wal_and_shm_in_the_wrong_group(shared: SharedSite) -> None:
    # A pvp running now keeps -wal and -shm; one of them was made by an account whose
    # primary group is not the staff group (the directory was not setgid then).
    with sqlite3.connect(shared.db) as conn:
        conn.execute("SELECT count(*) FROM visits").fetchone()
        wal = Path(f"{shared.db}-wal")
        assert wal.exists()
        os.chown(wal, -1, 0)
        found = doctor.check_database(shared.db, STAFF_GROUP)
    assert [f.fix for f in problems(found)] == [f"chgrp {STAFF_GROUP} {wal}"]


def test_directory_not_setgid_nor_group_writable(shared: SharedSite) -> None:
    shared.db.parent.chmod(0o750)
    fixes = [f.fix for f in problems(doctor.check_database(shared.db, STAFF_GROUP))]
    assert f"chmod g+s {shared.db.parent}" in fixes
    assert any("chmod g+rwx" in fix for fix in fixes)


def test_database_missing_damaged_or_unknown_group(shared: SharedSite) -> None:
    missing = problems(doctor.check_database(shared.db.with_name("other.db"), STAFF_GROUP))
    assert len(missing) == 1 and "pvp" in missing[0].fix
    no_dir = problems(doctor.check_database(shared.root / "nowhere" / "pvp.db", STAFF_GROUP))
    assert "install -d -m 2770 -g users" in no_dir[0].fix
    unknown = problems(doctor.check_database(shared.db, "no-such-group-pvp"))
    assert "groupadd no-such-group-pvp" in unknown[0].fix
    garbage = shared.db.with_name("garbage.db")
    garbage.write_bytes(b"this is not a database" * 100)
    garbage.chmod(0o660)
    assert any("garbage.db" in f.message for f in problems(doctor.check_database(garbage)))


def test_a_store_in_the_root_group_gets_a_staff_group_not_root(shared: SharedSite) -> None:
    for path in (shared.db, shared.db.parent):
        os.chown(path, -1, 0)
    result = shared.pvp("doctor", "--skip-kiosks", "--lang", "en")
    assert result.returncode == 1
    assert "-aG root" not in result.stdout and "chgrp root" not in result.stdout
    assert "belongs to the group root" in result.stdout
    assert f"chgrp pvp-staff {shared.db.parent} {shared.db}*" in result.stdout


def test_a_database_of_a_newer_pvp(shared: SharedSite) -> None:
    with contextlib.closing(sqlite3.connect(shared.db)) as conn:
        conn.execute("PRAGMA user_version = 99")
        conn.commit()
    found = problems(doctor.check_database(shared.db, STAFF_GROUP))
    assert len(found) == 1 and "99" in found[0].message
    assert "PVP Relais" in found[0].fix


def test_an_erasure_left_pending_is_reported(shared: SharedSite) -> None:
    assert problems(doctor.check_database(shared.db, STAFF_GROUP)) == []
    with contextlib.closing(sqlite3.connect(shared.db)) as conn:
        conn.execute("INSERT INTO pending_erasure (vacuum) VALUES (0)")  # as a blocked purge
        conn.commit()
    (found,) = problems(doctor.check_database(shared.db, STAFF_GROUP))
    assert "copies" in found.message and "pvp purge" in found.fix


def test_free_space_where_the_store_lives(shared: SharedSite, tmp_path: Path) -> None:
    result = shared.pvp("doctor", "--skip-kiosks", "--group", STAFF_GROUP, "--lang", "en")
    assert re.search(
        rf"✓ disk : [\d.]+ [GM]B free on the disk holding {shared.db.parent}", result.stdout
    )
    with small_disk(tmp_path / "disk", "20m") as disk:
        site = SharedSite(shared.root, shared.config, disk / "pvp.db")
        result = site.pvp("doctor", "--skip-kiosks", "--lang", "en")
    assert result.returncode == 1
    assert re.search(r"✗ disk : only (20|21) MB free on the disk holding", result.stdout), (
        result.stdout
    )
    assert "free space on that disk" in result.stdout


# --------------------------------------------------------------------------- kiosks
def test_kiosk_unreachable(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("x" * 40)
    token.chmod(0o640)
    kiosk = Kiosk("k1", "Borne 1", "ws://127.0.0.1:9/v1", token)  # discard: nothing listens
    found = problems(doctor.check_kiosks([kiosk]))
    assert any("systemctl status pvp-bridge" in f.fix for f in found)
    assert any("ws://127.0.0.1:9/v1" in f.message for f in found)


def test_kiosk_token_file_problems(tmp_path: Path) -> None:
    missing = Kiosk("k1", "Borne 1", "ws://127.0.0.1:9/v1", tmp_path / "none")
    assert "/etc/pvp-bridge/token" in problems(doctor.check_kiosks([missing]))[0].fix
    empty = tmp_path / "empty"
    empty.write_text("\n")
    assert "empty" in doctor.check_kiosks([Kiosk("k", "B", "ws://x/v1", empty)])[0].message


def test_kiosk_wrong_token_and_no_scanner_no_cups(tmp_path: Path) -> None:
    with bridge(tmp_path / "kiosk", scanner=False) as (url, token):
        wrong = tmp_path / "wrong"
        wrong.write_text("not-the-token-at-all-0123456789")
        wrong.chmod(0o600)
        refused = problems(doctor.check_kiosks([Kiosk("k1", "Borne 1", url, wrong)]))
        assert any("refused the token" in f.message for f in refused)

        found = problems(doctor.check_kiosks([Kiosk("k1", "Borne 1", url, token)]))
        messages = " | ".join(f.message for f in found)
        assert "no scanner" in messages
        assert "CUPS" in messages
        assert "not encrypted" in messages  # ws:// on a LAN
        assert not any("refused" in f.message or "answer" in f.message for f in found)


def test_kiosk_tls_untrusted_then_trusted_with_its_ca(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path / "tls")
    with bridge(tmp_path / "kiosk", scanner=True, tls=(cert, key)) as (url, token):
        assert url.startswith("wss://")
        untrusted = problems(doctor.check_kiosks([Kiosk("k1", "Borne 1", url, token)]))
        assert any("not trusted" in f.message for f in untrusted), untrusted
        assert any("ca_file" in f.fix for f in untrusted)

        trusted = doctor.check_kiosks([Kiosk("k1", "Borne 1", url, token, cert)])
        messages = " | ".join(f.message for f in problems(trusted))
        # TLS and the token are fine, the test scanner is there; only CUPS is missing
        assert "trusted" not in messages and "encrypted" not in messages
        assert "scanner" not in messages
        assert "CUPS" in messages


def test_kiosk_world_readable_token(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("y" * 40)
    token.chmod(0o644)
    found = problems(doctor.check_kiosks([Kiosk("k", "B", "wss://127.0.0.1:9/v1", token)]))
    assert f"chmod o-rwx {token}" in [f.fix for f in found]


def test_printer_health_judged() -> None:
    healthy = {
        "scanners": [{"device": "test:0", "status": "ready"}],
        "cups": "ok",
        "printers": [{"name": "accueil", "state": "idle", "reasons": []}],
    }
    assert doctor._judge_health("k", healthy) == []
    jammed = {
        **healthy,
        "printers": [{"name": "accueil", "state": "stopped", "reasons": ["media-empty"]}],
    }
    found = doctor._judge_health("k", jammed)
    assert "media-empty" in found[0].message and "cupsenable accueil" in found[0].fix
    assert "no printer" in doctor._judge_health("k", {**healthy, "printers": []})[0].message


def test_doctor_checks_the_kiosks_of_the_site_config(shared: SharedSite, tmp_path: Path) -> None:
    with bridge(tmp_path / "kiosk", scanner=True) as (url, token):
        shared.config.write_text(
            shared.config.read_text()
            + f'''
[[kiosks]]
id = "borne-1"
name = "Borne 1"
url = "{url}"
token_file = "{token}"

[[kiosks]]
id = "borne-2"
name = "Borne 2"
url = "ws://127.0.0.1:9/v1"
token_file = "{token}"
'''
        )
        result = shared.pvp("doctor", "--group", STAFF_GROUP)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    borne1 = [line for line in lines if line.startswith("✗ borne borne-1")]
    borne2 = [line for line in lines if line.startswith("✗ borne borne-2")]
    assert any("CUPS" in line for line in borne1)  # reached: its health was read
    assert any("n'est pas chiffré" in line for line in borne1)
    assert any("ne répond pas" in line for line in borne2)
    assert not any("scanner" in line for line in borne1)  # SANE's test scanner is there
    kiosks = kiosks_from_config(load_config(shared.config))
    assert [k.id for k in kiosks] == ["borne-1", "borne-2"]


# --------------------------------------------------------------------------- terminal
@pytest.mark.parametrize(
    ("env", "size", "expected"),
    [
        ({"TERM": "xterm-256color"}, (80, 24), None),
        ({"TERM": "xterm"}, (120, 40), None),
        ({"TERM": "dumb"}, (80, 24), "ssh -t"),
        ({}, (80, 24), "ssh -t"),
        ({"TERM": "xterm-256color"}, (79, 24), "enlarge"),
        ({"TERM": "xterm-256color"}, (100, 20), "enlarge"),
    ],
)
def test_terminal(env: dict[str, str], size: tuple[int, int], expected: str | None) -> None:
    found = problems(doctor.check_terminal(env, size, is_terminal=True))
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0].fix


def test_too_small_terminal_for_real(shared: SharedSite) -> None:
    with tmux() as term:
        # typed at a shell prompt, as a person does (the pane has its final size by then)
        pane = term.new_session(
            in_terminal(["sh"], PATH=shared.env()["PATH"]),
            {**shared.env(), "PS1": "$ "},
            width=70,
            height=20,
        )
        term.wait_for(pane, "$", what="the shell prompt")
        term.type(pane, "pvp doctor --skip-kiosks; echo exit=$?")
        term.keys(pane, "Enter")
        screen = term.wait_for(pane, _exited, what="doctor's verdict")
        assert "70x20" in screen and "exit=1" in screen
        assert "agrandissez la fenêtre" in screen
