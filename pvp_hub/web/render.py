"""Drawing a page: the templates, the reader's language, the security headers."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from pvp_tui.core import i18n

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"
LANGUAGE_COOKIE = "pvp_hub_lang"

# Pages load nothing from elsewhere, run only the hub's own script files (no inline
# script), and cannot be framed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
        "img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",  # the pages hold visits' details: never in a shared cache
}


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # The catalog is the staff app's (pvp_tui/locale): one place for every French word.
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals["lang_url"] = lang_url
    return env


def lang_url(request: Request, language: str) -> str:
    """This page in another language, its other query parameters kept (?suite=...)."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return "?" + urlencode([*query, ("lang", language)])


def language_of(request: Request) -> str:
    """?lang= (then kept in a cookie by `page`), else the cookie, else French."""
    for asked in (request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if asked in i18n.LANGUAGES:
            return str(asked)
    return i18n.DEFAULT_LANGUAGE


def page(
    request: Request,
    template: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    language = language_of(request)
    with i18n.using_language(language):
        html = (
            environment()
            .get_template(template)
            .render(request=request, language=language, **context)
        )
    response = HTMLResponse(html, status, headers={**SECURITY_HEADERS, **(headers or {})})
    if request.query_params.get("lang") == language:
        response.set_cookie(
            LANGUAGE_COOKIE,
            language,
            max_age=365 * 86400,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


def error_page(
    request: Request, status: int, message: str | None = None, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """A refusal as a page: its status, a plain title and what to do."""
    with i18n.using_language(language_of(request)):
        _ = i18n.gettext
        titles = {
            401: _("Sign-in required"),
            403: _("Not allowed"),
            404: _("Page not found"),
            405: _("Not allowed"),
            429: _("Too many attempts"),
            503: _("The hub is busy"),
        }
        title = titles.get(status, _("Something went wrong"))
        default = {
            404: _("This page does not exist, or it is not yours to see."),
            503: _("The hub's database is busy or unavailable: try again in a moment."),
        }.get(status, _("Go back and try again."))
    return page(request, "error.html", status, headers, title=title, message=message or default)
