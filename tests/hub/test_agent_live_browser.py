"""The agent's live page in real headless Chromium against a real hub process: sign in
through the form, a visitor appears without a reload when the site pushes a check-in (and
is announced in the polite live region), the room link once the site asked for the room,
the kiosk in the room, the keyboard's place kept across updates; another partner's agent
sees nothing of it, and a guessed visit id is a plain 404. Screenshots at 1366x768 (a
laptop) and 820x1180 (a tablet) are written to PVP_HUB_SHOTS when it is set."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.hub.browser import chromium, sign_in
from tests.hub.people_pages import agent, visit
from tests.hub.regions import Hub, Region, event, push
from tests.hub.test_rooms import ask, jitsi_rule, view

LIVE_WAIT_MS = 20_000  # the page asks every 5 s; a loaded machine may be slow to answer

pytestmark = pytest.mark.parametrize("hub", ["sqlite"], indirect=True)


def checked_in(client: httpx.Client, site, ticket: str, needs: list[str]) -> uuid.UUID:  # type: ignore[no-untyped-def]
    visit_id = uuid.uuid4()
    first = event(visit_id, "checked_in")
    first["data"] = {"partner": "caf", "ticket": ticket, "kind": "walk_in", "needs": needs}
    assert push(client, site, [first]).status_code == 200
    return visit_id


def test_a_visitor_appears_live_with_the_room_and_stays_private(
    hub: Hub, region: Region, client: httpx.Client, tmp_path: Path
) -> None:
    jitsi_rule(region)
    site = region.site()
    caf = agent(region, "caf", [site.slug], "Agent CAF")
    cpam = agent(region, "cpam", [site.slug], "Agent CPAM")
    visit(client, site, "caf", "C-001", name="Mme Durand")  # waiting before the agent came
    shots = Path(os.environ.get("PVP_HUB_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)

    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="fr-FR")
        # The room's server is not reachable from here: what matters is where the hub
        # sends the agent (its redirect), seen on the way.
        hops: list[tuple[str, int, str | None]] = []
        context.on("response", lambda r: hops.append((r.url, r.status, r.headers.get("location"))))
        page = context.new_page()
        sign_in(page, hub.url, caf)
        expect(page.get_by_role("heading", name="Mes visiteurs")).to_be_visible()
        rows = page.locator("#live tr[data-visit]")
        expect(rows).to_have_count(1)
        expect(page.locator("#live")).to_contain_text("Mme Durand")
        expect(page.get_by_role("link", name="Recharger la page")).to_be_visible()
        page.evaluate("window.__same_page = true")  # gone if the page reloads

        # The site checks a visitor in: the row appears by itself, and is announced.
        new = checked_in(client, site, "C-007", ["sign_language", "transcription"])
        row = page.locator(f'tr[data-visit="{new}"]')
        expect(row).to_be_visible(timeout=LIVE_WAIT_MS)
        expect(page.locator("#announce")).to_have_text(
            f"Nouveau visiteur : C-007 à Site {site.slug}."
        )
        assert page.evaluate("window.__same_page") is True
        expect(row.locator('[data-k="needs"]')).to_have_text(
            "interprète en langue des signes (LSF), interprète de transcription"
        )
        expect(row.locator('[data-k="name"]')).to_have_text("non communiqué")
        expect(row.locator('[data-k="room"]')).to_have_text("pas encore lancée")

        # The site asks for the room (F5), the kiosk joins: both show without a reload.
        room = ask(client, site, new).json()
        started = event(new, "session_started", kiosk="borne-1", session="s-1",
                        partner="caf", room_host="meet.example.org")  # fmt: skip
        assert push(client, site, [started]).status_code == 200
        link = row.get_by_role("link", name="Rejoindre la visio C-007")
        expect(link).to_be_visible(timeout=LIVE_WAIT_MS)
        expect(row.locator('[data-k="kiosk"]')).to_have_text("borne-1 dans la salle")

        # The keyboard stays on the link while the list changes around it.
        link.focus()
        checked_in(client, site, "C-008", [])
        expect(rows).to_have_count(3, timeout=LIVE_WAIT_MS)
        assert page.evaluate("document.activeElement.id") == f"room-{new}"
        page.screenshot(path=str(shots / "agent-1366x768.png"), full_page=True)
        page.set_viewport_size({"width": 820, "height": 1180})
        # A tablet: one card per visitor, each value under its column's name (the names
        # come from one stylesheet per language, not from every cell).
        before = "c => getComputedStyle(c, '::before').content"
        for key, name in (("ticket", "Ticket"), ("needs", "Besoins d'accessibilité")):
            cell = row.locator(f'[data-k="{key}"]')
            for _ in range(100):  # the narrow layout's stylesheet applies once loaded
                if cell.evaluate(before) == f'"{name}"':
                    break
                page.wait_for_timeout(100)
            assert cell.evaluate(before) == f'"{name}"'
        page.screenshot(path=str(shots / "agent-820x1180.png"), full_page=True)

        # The agent opens the room: through the hub (recorded), on to the room.
        with context.expect_page() as opened:
            link.click()
        opened.value.wait_for_load_state()
        assert (f"{hub.url}/agent/visites/{new}/visio", 303, room["url"]) in hops
        opened.value.close()
        assert view(client, site, new)["room"]["agent_opened_at"] is not None
        expect(row.locator('[data-k="room"]')).to_contain_text("ouverte", timeout=LIVE_WAIT_MS)

        # A guessed visit id: the same 404 as a page that does not exist.
        guessed = page.goto(f"{hub.url}/agent/visites/{uuid.uuid4()}/visio")
        assert guessed is not None and guessed.status == 404

        # Another partner's agent, at the same site: nothing of it, not even the room.
        other = browser.new_context(viewport={"width": 1366, "height": 768}, locale="fr-FR")
        theirs = other.new_page()
        sign_in(theirs, hub.url, cpam)
        expect(theirs.locator("#live")).to_contain_text("Personne ne vous attend")
        for secret in ("C-007", "Mme Durand", "meet.example.org"):
            assert secret not in theirs.content()
        refused = theirs.goto(f"{hub.url}/agent/visites/{new}/visio")
        assert refused is not None and refused.status == 404
        assert "meet.example.org" not in theirs.content()


def test_a_long_list_is_drawn_first_in_part_then_whole_with_nobody_announced(
    hub: Hub, region: Region, client: httpx.Client
) -> None:
    site = region.site()
    caf = agent(region, "caf", [site.slug], "Agent CAF")
    for n in range(45):  # more than the page's first drawing holds (40)
        checked_in(client, site, f"C-{n + 1:03d}", [])

    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="fr-FR")
        page = context.new_page()
        sign_in(page, hub.url, caf)
        # The page as sent: 40 rows, the 5 others named for the script, a link to all.
        first = context.request.get(f"{hub.url}/agent").text()
        assert first.count('<tr role="row" data-visit=') == 40
        assert "5 autres visiteurs : affichage en cours…" in first
        # The script fetches the rest (at once: benchmarks/bench_agent_page.py), announcing nobody.
        rows = page.locator("#live tr[data-visit]")
        expect(rows).to_have_count(45, timeout=LIVE_WAIT_MS)
        expect(page.locator("#more")).to_have_count(0)
        assert page.locator("#announce").text_content() == ""
        # A visitor arriving now is announced as usual.
        checked_in(client, site, "C-046", [])
        expect(rows).to_have_count(46, timeout=LIVE_WAIT_MS)
        expect(page.locator("#announce")).to_have_text(
            f"Nouveau visiteur : C-046 à Site {site.slug}."
        )

        # Without the script, the link draws them all.
        still = browser.new_context(java_script_enabled=False, locale="fr-FR")
        plain = still.new_page()
        sign_in(plain, hub.url, caf)
        expect(plain.locator("#live tr[data-visit]")).to_have_count(40)
        plain.get_by_role("link", name="Les afficher tous").click()
        expect(plain.locator("#live tr[data-visit]")).to_have_count(46)
        still.close()
