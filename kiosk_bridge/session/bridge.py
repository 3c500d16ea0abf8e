"""The video session as a bridge extension: `session.start`, `session.end`, `session.status`
and the events `session.state` and `session.stats` (see docs/bridge-protocol.md).

Listed in `kiosk_bridge.app.EXTENSIONS`; its `setup(bridge)` reads `[session]` from the
bridge config, registers the methods, events and error codes, and ends the call (killing
the browser) when the bridge stops.
"""

from __future__ import annotations

from typing import Any

from kiosk_bridge.errors import CATALOG, BridgeError, ErrorSpec
from kiosk_bridge.protocol import CallContext, Str
from kiosk_bridge.session.config import RoomRefused, parse
from kiosk_bridge.session.manager import SessionManager

EVENTS = ("session.state", "session.stats")

ERRORS: dict[str, ErrorSpec] = {
    "invalid_display_name": ErrorSpec(
        False,
        "Le nom affiché dans la visio doit être le numéro de ticket de la visite (par "
        "exemple C-007), jamais le nom du visiteur.",
        "The name shown in the call must be the visit's ticket number (for example C-007), "
        "never the visitor's name.",
    ),
    "unknown_partner": ErrorSpec(
        False,
        "La borne ne connaît pas encore la visio de {partner} : prévenez l'administrateur "
        "(il manque {partner} dans [session.partners] de la configuration du pont, avec son "
        "préfixe de ticket et ses domaines de visio).",
        "The kiosk does not know {partner}'s video calls yet: tell your administrator "
        "({partner} is missing from [session.partners] in the bridge config, with its ticket "
        "prefix and its video domains).",
    ),
    "ticket_partner_mismatch": ErrorSpec(
        False,
        "Le ticket {ticket} n'appartient pas au partenaire {partner}.",
        "Ticket {ticket} does not belong to partner {partner}.",
    ),
    "invalid_room_url": ErrorSpec(
        False,
        "Adresse de salle de visio refusée : {detail}.",
        "Video room address refused: {detail}.",
    ),
    "room_not_allowed": ErrorSpec(
        False,
        "La borne refuse la visio de {host} pour {partner} : prévenez l'administrateur (si "
        "c'est bien sa visio, il l'ajoute à domains dans [session.partners.{partner}] de la "
        "configuration du pont).",
        "The kiosk refuses video calls on {host} for {partner}: tell your administrator (if "
        "it is really its video service, they add it to domains in "
        "[session.partners.{partner}] of the bridge config).",
    ),
    "invalid_room_kind": ErrorSpec(
        False,
        "Manière de rejoindre la visio inconnue : {kind}.",
        "Unknown way of joining the call: {kind}.",
    ),
    "session_busy": ErrorSpec(
        True,
        "Une visio est déjà en cours sur cette borne (ticket {ticket}). Terminez-la d'abord.",
        "A call is already running on this kiosk (ticket {ticket}). End it first.",
    ),
    "shutting_down": ErrorSpec(
        True,
        "Le pont de la borne s'arrête. Réessayez dans quelques secondes.",
        "The kiosk bridge is stopping. Try again in a few seconds.",
    ),
}


class SessionError(BridgeError):
    """A BridgeError whose codes live here, with the session code (kiosk_bridge.errors'
    CATALOG stays the bridge core's); on the wire it is the same error object."""

    def __init__(self, code: str, **params: Any) -> None:
        if code in CATALOG:  # a core code such as shutting_down
            super().__init__(code, **params)
            return
        spec = ERRORS.get(code)
        if spec is None:
            raise ValueError(f"unknown error code {code!r}")
        message = {"fr": spec.fr.format(**params), "en": spec.en.format(**params)}
        self._set(code, message, spec.retryable, None, params)


def setup(bridge: Any) -> None:
    config = parse(bridge.config.extra.get("session"))
    reg = bridge.registry
    for event in EVENTS:
        reg.event(event)

    async def on_event(name: str, data: dict[str, Any]) -> None:
        bridge.broadcast(name, data)

    manager = SessionManager(config, on_event)
    bridge.session = manager

    @reg.method(
        "session.start",
        {
            "room_url": Str(max_len=4096),
            "display_name": Str(max_len=200),
            "partner": Str(default=None, max_len=32),
            "room_kind": Str(default=None, max_len=32),
        },
    )
    async def start(call: CallContext, p: dict[str, Any]) -> Any:
        """Open the partner's room on the kiosk; states follow as session.state events."""
        try:
            screen = getattr(bridge, "screen", None)
            if screen is not None and not manager.active:
                # The rules first (never a name on the kiosk's page), then the preview
                # gives the camera back before the call's browser asks for it.
                request = manager.config.check_request(
                    p["room_url"], p["display_name"], p["partner"], p["room_kind"]
                )
                await screen.call_opening(request.display_name, request.partner)
            return await manager.start(
                p["room_url"], p["display_name"], p["partner"], p["room_kind"]
            )
        except RoomRefused as exc:
            raise SessionError(exc.code, **exc.params) from None

    @reg.method("session.end", {})
    async def end(call: CallContext, p: dict[str, Any]) -> Any:
        """End the call and close the browser (does nothing when no call runs)."""
        return await manager.end()

    @reg.method("session.status", {})
    async def status(call: CallContext, p: dict[str, Any]) -> Any:
        """The current session (state, quality, last figures) or idle with the last one."""
        return manager.status()

    async def stop(bridge: Any) -> None:
        await manager.close()

    bridge.on_stop(stop)
