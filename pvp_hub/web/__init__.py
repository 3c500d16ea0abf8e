"""The hub's pages: server-rendered HTML (Jinja2, autoescaped) for agents and admins, in
French by default and in English on request, with no asset from outside the hub.

`render` draws a page; `sessions` says who is signed in and guards each page. The pages'
routes live next to them (one module per family); `api.create_app` includes them.
"""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    """Every family of pages, in the order they are matched."""
    from . import agent, documents, home, region, signin

    return [home.router, signin.router, agent.router, documents.router, region.router]
