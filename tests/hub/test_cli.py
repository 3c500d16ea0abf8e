"""`pvp-hub` as a region's admin and a site's installer use it (SQLite). The command is
run as a real process where the process is what is tested (the entry point, its exit
status, an environment of its own, `serve`); the many admin commands around it call the
same `main()` in this process, with their own stdin, stdout and stderr: each one as a
process would pay Python's start-up and the hub's imports again."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.hub.regions import Hub
from tests.support.hub_daemons import HUB, REPO, HubProcess, free_port, hub_main


def run(
    db: str,
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    process: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`pvp-hub ARGS --db DB`: a real process if asked (or given an environment of its
    own), else its main() here, answering as subprocess.run would."""
    argv = [*args, *(["--db", db] if db else [])]
    if process or env is not None:
        return subprocess.run(
            [*HUB, *argv], input=stdin, capture_output=True, text=True, cwd=REPO, env=env,
            timeout=60,
        )  # fmt: skip
    return hub_main(argv, stdin)


def test_a_region_is_set_up_from_the_command_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'hub.db'}"
    # The entry point as a process once: it creates the database and exits 0.
    assert run(db, "admin", "region", "add", "limousin", "Limousin", process=True).returncode == 0
    assert run(db, "admin", "site", "add", "leyme", "MFS de Leyme").returncode == 0
    partners = tmp_path / "partners.toml"
    partners.write_text(
        '[[partners]]\nid = "caf"\nname = "CAF"\nprefix = "C"\n'
        'hours = { mon = ["09:00-12:00"] }\n'
        'room_url = "https://visio.example.fr/{site}-{ticket}"\n'
        'room_domains = ["visio.example.fr"]\n'
    )
    imported = run(db, "admin", "partner", "import", str(partners))
    assert imported.returncode == 0 and imported.stdout == "caf: added\n"
    added = run(db, "admin", "partner", "add", "msa", "--name", "MSA", "--prefix", "M",
                "--hours", "tue=09:00-12:00,13:30-17:00", "--room-api",
                "https://visio.numerique.gouv.fr/api/v1.0/", "--room-domain",
                "visio.numerique.gouv.fr")  # fmt: skip
    assert added.returncode == 0, added.stderr
    bad = run(db, "admin", "partner", "add", "x", "--name", "X", "--prefix", "c",
              "--hours", "mon=9-12")  # fmt: skip
    assert bad.returncode == 1
    assert "partners[0].prefix: must be 1 to 3 capital letters (got 'c')" in bad.stderr
    assert "partners[0].hours.mon: '9-12' is not a time range" in bad.stderr
    listed = run(db, "admin", "partner", "list").stdout.splitlines()
    assert [line.split()[:3] for line in listed[1:]] == [["caf", "CAF", "C"], ["msa", "MSA", "M"]]

    agent = run(db, "admin", "agent", "add", "A.Martin@caf.fr", "--name", "A. Martin",
                "--partner", "caf", "--site", "leyme")  # fmt: skip
    assert agent.returncode == 0, agent.stderr
    weak = run(db, "admin", "password", "a.martin@caf.fr", "--password-stdin", stdin="short\n")
    assert weak.returncode == 1 and "at least 12 characters" in weak.stderr
    strong = run(db, "admin", "password", "a.martin@caf.fr", "--password-stdin",
                 stdin="correct horse battery\n")  # fmt: skip
    assert strong.returncode == 0 and "agent a.martin@caf.fr" in strong.stdout
    agents = run(db, "admin", "agent", "list", "--json").stdout
    assert '"has_password": true' in agents and "argon2" not in agents

    assert run(db, "admin", "admin", "add", "chef@region.fr", "--name", "Chef").returncode == 0
    admins = run(db, "admin", "admin", "list").stdout.splitlines()
    assert admins[1].split() == ["chef@region.fr", "Chef", "(every", "region)", "False"]

    issued = run(db, "admin", "token", "issue", "leyme", "--label", "accueil")
    token_id = issued.stdout.split()[1]
    token = issued.stdout.splitlines()[-1]
    assert token.startswith("pvphub_")
    listed_tokens = run(db, "admin", "token", "list").stdout
    assert token_id in listed_tokens and token not in listed_tokens
    assert token not in (tmp_path / "hub.db").read_bytes().decode("latin-1")

    hub = HubProcess(db, tmp_path)
    try:
        hub.start()
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(hub.url + "/api/v1/site", headers=auth).json()["id"] == "leyme"
        items = httpx.get(hub.url + "/api/v1/site/changes", headers=auth).json()["items"]
        rooms = {i["id"]: i["data"]["room"] for i in items if i["kind"] == "partner"}
        assert rooms["caf"]["kind"] == "url" and rooms["msa"]["kind"] == "api"
        assert run(db, "admin", "token", "revoke", token_id).returncode == 0
        assert httpx.get(hub.url + "/api/v1/site", headers=auth).status_code == 401
    finally:
        hub.stop()
    again = run(db, "admin", "token", "revoke", token_id, process=True)  # its exit status
    assert again.returncode == 1 and "no live token" in again.stderr


def test_an_agent_who_leaves_is_cut_off_at_once_and_can_come_back(tmp_path: Path) -> None:
    import pytest

    from pvp_hub import people
    from pvp_hub.database import make_engine
    from pvp_hub.errors import HubError

    db = f"sqlite:///{tmp_path / 'hub.db'}"
    assert run(db, "admin", "region", "add", "limousin", "Limousin").returncode == 0
    assert run(db, "admin", "site", "add", "leyme", "MFS de Leyme").returncode == 0
    assert (
        run(db, "admin", "partner", "add", "caf", "--name", "CAF", "--prefix", "C").returncode == 0
    )
    assert run(db, "admin", "agent", "add", "a.martin@caf.fr", "--name", "A. Martin",
               "--partner", "caf", "--all-sites").returncode == 0  # fmt: skip
    password = "correct horse battery"
    assert run(db, "admin", "password", "a.martin@caf.fr", "--password-stdin",
               stdin=password + "\n").returncode == 0  # fmt: skip
    engine = make_engine(db)
    try:
        session = people.sign_in(engine, "a.martin@caf.fr", password)
        assert people.session_person(engine, session.token) is not None

        off = run(db, "admin", "agent", "disable", "a.martin@caf.fr")
        assert off.returncode == 0 and "disabled" in off.stdout, off.stderr
        assert people.session_person(engine, session.token) is None  # signed out at once
        with pytest.raises(HubError) as refused:
            people.sign_in(engine, "a.martin@caf.fr", password)
        assert refused.value.status == 401
        assert '"disabled": true' in run(db, "admin", "agent", "list", "--json").stdout
        assert "already disabled" in run(db, "admin", "agent", "disable", "a.martin@caf.fr").stdout

        on = run(db, "admin", "agent", "enable", "a.martin@caf.fr")
        assert on.returncode == 0 and "can sign in again" in on.stdout
        assert people.sign_in(engine, "a.martin@caf.fr", password).person.kind == "agent"
    finally:
        engine.dispose()
    unknown = run(db, "admin", "agent", "disable", "nobody@caf.fr")
    assert unknown.returncode == 1 and "no agent has the login" in unknown.stderr


def test_mistakes_are_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text("[server]\nport = 0\n")
    answer = run("", "serve", "--config", str(config), process=True)
    assert answer.returncode == 2
    assert answer.stderr == f"{config}: server.port: must be between 1 and 65535 (got 0)\n"
    unknown = run(f"sqlite:///{tmp_path / 'x.db'}", "admin", "site", "list", "--region", "nowhere")
    assert unknown.returncode == 1 and unknown.stderr == "pvp-hub: unknown region 'nowhere'\n"


def test_serve_with_nothing_configured_runs_the_demo_region(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "HOME": str(tmp_path)}
    env = {k: v for k, v in env.items() if not k.startswith("PVP_HUB_")}
    port = free_port()
    hub = HubProcess("", tmp_path, port)
    hub.db_url = ""
    try:
        hub.start(env=env)
        database = tmp_path / "data" / "pvp-relais" / "hub.db"
        assert database.is_file()
        token = run("", "admin", "token", "issue", "demo", env=env).stdout.splitlines()[-1]
        auth = {"Authorization": f"Bearer {token}"}
        items = httpx.get(hub.url + "/api/v1/site/changes", headers=auth).json()["items"]
        partners = sorted(i["id"] for i in items if i["kind"] == "partner")
        assert partners == sorted(
            ["caf", "cpam", "carsat", "msa", "france-travail", "dgfip", "france-titres",
             "justice", "la-poste"]
        )  # fmt: skip
    finally:
        hub.stop()


@pytest.mark.engine("sqlite")  # the hub's storage plays no role here
def test_forwarded_headers_are_believed_only_from_the_proxies_named(
    hub: Hub, tmp_path: Path
) -> None:
    client_ip = "203.0.113.77"
    headers = {"X-Forwarded-For": client_ip}
    logged = {**os.environ, "PVP_HUB_ACCESS_LOG": "true"}  # the address each request came from
    plain = HubProcess(hub.process.db_url, tmp_path)
    trusting = HubProcess(hub.process.db_url, tmp_path)
    try:
        plain.start(env=logged)  # names no proxy: the header is ignored
        trusting.start("--forwarded-allow-ips", "127.0.0.1", env=logged)
        for process in (plain, trusting):
            assert httpx.get(process.url + "/api/v1/health", headers=headers).status_code == 200
    finally:
        plain.stop()
        trusting.stop()
    assert client_ip in trusting.log.read_text()
    assert "127.0.0.1" in plain.log.read_text() and client_ip not in plain.log.read_text()
    # And by default no request is logged (the reverse proxy logs them).
    httpx.get(hub.url + "/api/v1/health", headers=headers)
    assert "/api/v1/health" not in hub.process.log.read_text()
