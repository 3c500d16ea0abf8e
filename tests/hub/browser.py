"""Headless Chromium for the hub's pages (Playwright driving Debian's chromium: no
browser download; `--no-sandbox` as root)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from playwright.sync_api import Browser, Page, sync_playwright

from tests.hub.people_pages import PASSWORD

CHROMIUM = "/usr/bin/chromium"


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Page, base_url: str, login: str) -> None:
    """Through the real form, as an agent does."""
    page.goto(f"{base_url}/connexion?suite=/agent")
    page.get_by_label("Identifiant").fill(login)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"{base_url}/agent")
