"""The agent views a document the site sent, in real headless Chromium: the link on the
visit's documents page opens the PDF in the browser's own viewer (inline, never a
download), and the site then sees "opened"."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
from PIL import Image
from playwright.sync_api import Download, expect

from tests.hub.browser import chromium, sign_in
from tests.hub.people_pages import agent, visit
from tests.hub.regions import Hub, Region
from tests.hub.test_documents import client, doc_hub, make_pdf, send_whole, world

__all__ = ["client", "doc_hub", "world"]  # the fixtures, from the documents' tests


def test_the_agent_views_a_scanned_pdf_inline_and_the_site_sees_opened(
    doc_hub: Hub, world: Region, client: httpx.Client, tmp_path: Path
) -> None:
    site = world.site()
    visit_id = visit(client, site, "caf", "C-011")
    data = make_pdf(pages=2)
    doc = send_whole(client, site, visit_id, data)
    caf = agent(world, "caf", [site.slug])
    state = client.get(f"/api/v1/site/documents/{doc}", headers=site.auth).json()
    assert state["opened_at"] is None

    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="fr-FR")
        downloads: list[Download] = []
        context.on("page", lambda p: p.on("download", lambda d: downloads.append(d)))
        page = context.new_page()
        sign_in(page, doc_hub.url, caf)
        page.get_by_role("link", name="Documents C-011").first.click()
        row = page.locator(f'tr[data-document="{doc}"]')
        expect(row).to_contain_text("Envoyé par le site à")
        with (
            context.expect_page() as opened,
            context.expect_event("response", lambda r: r.url.endswith(doc)) as answered,
        ):
            row.get_by_role("link", name="Voir").click()
        viewer = opened.value
        viewer.wait_for_load_state()
        headers = answered.value.headers
        assert headers["content-type"] == "application/pdf"
        assert headers["content-disposition"].startswith("inline;")
        # Chromium shows it in its own PDF viewer, in the tab: a PDF document holding the
        # viewer's frame, no download; the viewer draws the white pages on its dark grey.
        assert viewer.url.endswith(f"/agent/documents/{doc}")
        assert viewer.evaluate("document.contentType") == "application/pdf"
        assert len(viewer.frames) > 1
        white = 0
        for _ in range(50):
            shot = Image.open(io.BytesIO(viewer.screenshot())).convert("RGB")
            colours = shot.getcolors(maxcolors=1 << 24) or []
            white = sum(count for count, colour in colours if colour == (255, 255, 255))
            if white > 10_000:
                break
            viewer.wait_for_timeout(200)
        assert white > 10_000, "no page drawn by the PDF viewer"
        assert downloads == []
        viewer.close()

        # The site sees "opened"; the agent's page says when.
        opened_at = client.get(f"/api/v1/site/documents/{doc}", headers=site.auth).json()
        assert opened_at["opened_at"] is not None
        page.reload()
        expect(row.locator('[data-step="opened"]')).to_contain_text("Ouvert à")
