"""The hub's pages, common to all of them: the front door, refusals as pages in the
reader's language, the security headers, the stylesheet (against real hub processes)."""

from __future__ import annotations

import httpx


def test_the_front_door_sends_a_stranger_to_the_sign_in_form(client: httpx.Client) -> None:
    answer = client.get("/")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/connexion"


def test_a_missing_page_is_a_page_in_french_then_in_english_on_request(
    client: httpx.Client,
) -> None:
    answer = client.get("/nulle-part")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in answer.text and "Page introuvable" in answer.text
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"

    english = client.get("/nulle-part?lang=en")
    assert english.status_code == 404 and "Page not found" in english.text
    assert "pvp_hub_lang=en" in english.headers["set-cookie"]
    assert "httponly" in english.headers["set-cookie"].lower()
    # the choice is kept by the cookie; a language the hub does not speak is ignored
    client.cookies.set("pvp_hub_lang", "en")
    assert "Page not found" in client.get("/ailleurs").text
    assert "Page introuvable" in client.get("/ailleurs?lang=fr").text
    with httpx.Client(base_url=str(client.base_url)) as stranger:
        assert "Page introuvable" in stranger.get("/ailleurs?lang=xx").text


def test_the_api_still_answers_in_json(client: httpx.Client) -> None:
    answer = client.get("/api/v1/nothing-here")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_the_stylesheet_is_served_by_the_hub_itself(client: httpx.Client) -> None:
    answer = client.get("/static/hub.css")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/css")
    assert "--accent" in answer.text
    assert "url(" not in answer.text  # no font or image from elsewhere
