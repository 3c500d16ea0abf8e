"""The sign-in form and sign-out against real hub processes, on both engines: one answer
for every wrong login, the throttle, forged and cross-site posts, the cookies'
attributes (over plain HTTP and behind a TLS proxy), where the form sends you after."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.hub.people_pages import (
    PASSWORD,
    admin,
    agent,
    form_token,
    post_sign_in,
    sessions_of,
    signed_in,
)
from tests.hub.regions import Hub, Region
from tests.support.hub_daemons import HubProcess


def cookie_line(answer: httpx.Response, name: str) -> str:
    lines = [c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    assert len(lines) == 1, answer.headers.get_list("set-cookie")
    return lines[0].lower()


def test_the_form_is_french_labelled_and_carries_its_own_token(client: httpx.Client) -> None:
    answer = client.get("/connexion", params={"suite": "/agent"})
    assert answer.status_code == 200
    page = answer.text
    assert "<title>Connexion · PVP Relais</title>" in page and "<h1>Connexion</h1>" in page
    assert '<label for="login">Identifiant</label>' in page and 'id="login"' in page
    assert '<label for="password">Mot de passe</label>' in page and 'id="password"' in page
    assert 'name="suite" value="/agent"' in page and ">Se connecter</button>" in page
    # The other language keeps where to go after.
    assert 'href="?suite=%2Fagent&amp;lang=en"' in page
    token = cookie_line(answer, "pvp_hub_form")
    assert "httponly" in token and "samesite=strict" in token and "path=/connexion" in token
    assert "secure" not in token
    assert f'value="{client.cookies["pvp_hub_form"]}"' in page
    # A second tab gets the same token (both forms work).
    assert form_token(client) == client.cookies["pvp_hub_form"]


def test_a_wrong_password_and_an_unknown_login_get_the_same_page(
    region: Region, client: httpx.Client
) -> None:
    site = region.site()
    login = agent(region, "caf", [site.slug])
    unknown = f"{uuid.uuid4().hex[:10]}@caf.fr"
    token = form_token(client)
    wrong = post_sign_in(client, login, "not the password!", token=token)
    stranger = post_sign_in(client, unknown, PASSWORD, token=token)
    assert wrong.status_code == stranger.status_code == 401
    assert "Identifiant ou mot de passe incorrect." in wrong.text
    assert wrong.text.replace(login, "LOGIN") == stranger.text.replace(unknown, "LOGIN")
    assert f'value="{login}"' in wrong.text  # the login is kept, the password never
    assert "not the password!" not in wrong.text and PASSWORD not in stranger.text
    assert "pvp_hub_session" not in client.cookies
    assert sessions_of(region.engine, login) == 0
    # Empty fields are named as such (the browser's `required` stops them first).
    empty = post_sign_in(client, login, "", token=token)
    assert empty.status_code == 400 and "Saisissez votre identifiant" in empty.text


def test_the_sixth_failure_is_throttled_with_retry_after(
    region: Region, client: httpx.Client
) -> None:
    login = agent(region, "caf", None)
    token = form_token(client)
    for _ in range(5):
        assert post_sign_in(client, login, "guessing again", token=token).status_code == 401
    locked = post_sign_in(client, login, PASSWORD, token=token)  # even the right one
    assert locked.status_code == 429
    assert locked.headers["retry-after"] in ("60", "61")  # a minute, from the 5th failure
    assert "Trop de tentatives : réessayez dans 1 minute." in locked.text
    assert sessions_of(region.engine, login) == 0


def test_a_forged_or_cross_site_post_is_refused_before_the_password(
    region: Region, client: httpx.Client
) -> None:
    login = agent(region, "caf", None)
    token = form_token(client)
    forged = [
        post_sign_in(client, login, token=""),  # no field
        post_sign_in(client, login, token="x" * 43),  # not the cookie's
        post_sign_in(client, login, token=token, headers={"Origin": "https://evil.example"}),
        post_sign_in(client, login, token=token, headers={"Origin": "null"}),
        post_sign_in(client, login, token=token, headers={"Sec-Fetch-Site": "cross-site"}),
        post_sign_in(client, login, token=token, headers={"Sec-Fetch-Site": "same-site"}),
    ]
    with httpx.Client(base_url=str(client.base_url)) as no_cookie:  # the field, not the cookie
        forged.append(post_sign_in(no_cookie, login, token=token))
    for answer in forged:
        assert answer.status_code == 403, answer.text
        assert "Ce formulaire a expiré" in answer.text
        assert "pvp_hub_session" not in answer.headers.get("set-cookie", "")
    assert sessions_of(region.engine, login) == 0
    # The cross-site one does not send the stranger's login back into the page.
    assert login not in forged[2].text
    # The same post from this hub's own page (its Origin, same-origin fetch) goes through.
    origin = str(client.base_url).rstrip("/")
    fine = post_sign_in(
        client, login, token=token, headers={"Origin": origin, "Sec-Fetch-Site": "same-origin"}
    )
    assert fine.status_code == 303 and sessions_of(region.engine, login) == 1


def test_signing_in_sets_a_strict_session_cookie_and_goes_where_asked(
    region: Region, client: httpx.Client
) -> None:
    login = agent(region, "caf", None)
    answer = post_sign_in(client, login, suite="/agent")
    assert answer.status_code == 303 and answer.headers["location"] == "/agent"
    session = cookie_line(answer, "pvp_hub_session")
    assert "httponly" in session and "samesite=lax" in session and "path=/" in session
    assert "secure" not in session  # plain HTTP: a Secure cookie would never come back
    max_age = int(re.search(r"max-age=(\d+)", session).group(1))  # type: ignore[union-attr]
    assert 10 * 3600 - 60 <= max_age <= 10 * 3600
    assert "max-age=0" in cookie_line(answer, "pvp_hub_form")  # the form's token is spent
    # Signed in, the form sends you home.
    again = client.get("/connexion")
    assert again.status_code == 303 and again.headers["location"] == "/agent"
    assert client.get("/").headers["location"] == "/agent"


@pytest.mark.parametrize(
    "suite", ["//evil.example", "https://evil.example/", "/\t/evil.example", "/\\evil.example"]
)
def test_the_form_never_sends_you_off_the_hub(
    region: Region, client: httpx.Client, suite: str
) -> None:
    login = admin(region)
    assert 'name="suite" value="/"' in client.get("/connexion", params={"suite": suite}).text
    answer = post_sign_in(client, login, suite=suite)
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_signing_out_needs_the_sessions_secret_and_ends_it(
    region: Region, hub: Hub, client: httpx.Client
) -> None:
    login = agent(region, "caf", None)
    with signed_in(hub.url, login) as browser:
        token = browser.cookies["pvp_hub_session"]
        page = browser.get("/agent").text
        assert ">Se déconnecter</button>" in page and 'action="/deconnexion"' in page
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        # Without the page's secret (a link or a form from elsewhere): refused, still in.
        assert browser.post("/deconnexion", data={"csrf": "nope"}).status_code == 403
        assert browser.post("/deconnexion").status_code == 403
        assert browser.get("/agent").status_code == 200
        out = browser.post("/deconnexion", data={"csrf": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/connexion"
        assert "max-age=0" in cookie_line(out, "pvp_hub_session")
        assert "pvp_hub_session" not in browser.cookies
    assert sessions_of(region.engine, login) == 0
    # The old token, kept by someone: refused everywhere.
    client.cookies.set("pvp_hub_session", token)
    assert client.get("/agent").headers["location"] == "/connexion?suite=/agent"
    assert client.get("/api/v1/agent/visits").status_code == 401


@pytest.fixture
def behind_proxy(hub: Hub, workdir: Path) -> Iterator[HubProcess]:
    """A second hub process on the same database that believes 127.0.0.1 as its proxy
    (on SQLite only: the scheme comes from uvicorn, whatever the engine)."""
    if hub.kind != "sqlite":
        pytest.skip("the cookies' Secure flag does not depend on the engine")
    process = HubProcess(hub.process.db_url, workdir)
    process.start("--forwarded-allow-ips", "127.0.0.1")
    try:
        yield process
    finally:
        process.stop()


def test_the_cookies_are_secure_behind_a_tls_proxy_only(
    region: Region, client: httpx.Client, behind_proxy: HubProcess
) -> None:
    login = agent(region, "caf", None)
    https = {"X-Forwarded-Proto": "https"}
    with httpx.Client(base_url=behind_proxy.url, headers=https) as browser:
        form = browser.get("/connexion")
        assert "secure" in cookie_line(form, "pvp_hub_form")
        # httpx keeps a Secure cookie for https only: hand it back as the browser would.
        token = re.search(r'name="form_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        answer = browser.post(
            "/connexion",
            data={"login": login, "password": PASSWORD, "suite": "", "form_token": token},
            headers={"Cookie": f"pvp_hub_form={token}"},
        )
        assert answer.status_code == 303, answer.text
        assert "secure" in cookie_line(answer, "pvp_hub_session")
    # A hub that believes no proxy ignores the header (a client could send it itself).
    assert "secure" not in cookie_line(client.get("/connexion", headers=https), "pvp_hub_form")
