"""The video session's state machine. Pure: inputs carry the time, outputs are transitions.

    idle -> launching -> connecting -> waiting_agent -> in_call <-> reconnecting
                                                                 -> ended | failed

- connecting: the browser is up and the room page is loading, or loaded with no peer
  connection yet;
- waiting_agent: the page holds a peer connection, but no remote media has arrived;
- in_call: a peer connection is connected and remote media arrived on it;
- reconnecting: no connection carries the call any more (ICE disconnected or failed, or
  the platform is building a new one); back to in_call if one recovers in time.

Every `failed` carries a reason (see REASONS); `ended` says why the call ended.
The inputs are the injected script's reports (`report()`), the page's lifecycle, the
browser's exit and `tick()` for the timeouts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kiosk_bridge.session.config import Timeouts


class State(StrEnum):
    IDLE = "idle"
    LAUNCHING = "launching"
    CONNECTING = "connecting"
    WAITING_AGENT = "waiting_agent"
    IN_CALL = "in_call"
    RECONNECTING = "reconnecting"
    ENDED = "ended"
    FAILED = "failed"


TERMINAL = frozenset({State.ENDED, State.FAILED})
ACTIVE = frozenset({State.CONNECTING, State.WAITING_AGENT, State.IN_CALL, State.RECONNECTING})

# reason -> (French, English): what happened, and what to do.
REASONS: dict[str, tuple[str, str]] = {
    # ended
    "ended_by_staff": ("Visio terminée par l'accueil.", "Call ended by the front desk."),
    "far_end_left": (
        "L'agent a quitté la visio.",
        "The agent left the call.",
    ),
    "call_closed": (
        "La plateforme de visio a fermé l'appel.",
        "The video platform closed the call.",
    ),
    "page_left": (
        "La page de la visio a été quittée ou rechargée ; l'appel est terminé.",
        "The call's page was left or reloaded; the call is over.",
    ),
    "bridge_shutdown": (
        "Le pont de la borne s'est arrêté ; la visio a été fermée.",
        "The kiosk bridge stopped; the call was closed.",
    ),
    # failed
    "browser_not_found": (
        "Navigateur introuvable sur la borne. Installez Chromium ou corrigez [session] "
        "chromium dans la configuration du pont.",
        "Browser not found on the kiosk. Install Chromium or fix [session] chromium in the "
        "bridge config.",
    ),
    "browser_failed": (
        "Le navigateur de la borne n'a pas démarré. Réessayez ; si cela se répète, "
        "redémarrez la borne.",
        "The kiosk's browser did not start. Try again; if it persists, restart the kiosk.",
    ),
    "page_unreachable": (
        "La salle de visio ne répond pas. Vérifiez le réseau de la borne et l'adresse de "
        "la salle, puis réessayez.",
        "The video room does not answer. Check the kiosk's network and the room address, "
        "then try again.",
    ),
    "lobby_unavailable": (
        "La borne n'a pas pu se présenter dans la salle d'attente de la visio (formulaire "
        "introuvable). Réessayez ; si cela se répète, prévenez l'administrateur.",
        "The kiosk could not introduce itself in the call's waiting room (no form found). "
        "Try again; if it persists, tell your administrator.",
    ),
    "no_media_device": (
        "Caméra ou micro de la borne introuvable ou occupé. Vérifiez leurs branchements, "
        "puis réessayez.",
        "The kiosk's camera or microphone is missing or busy. Check they are plugged in, "
        "then try again.",
    ),
    "media_denied": (
        "La salle de visio n'a pas accès à la caméra ou au micro. Signalez-le à "
        "l'administrateur de la borne.",
        "The video room was refused the camera or microphone. Tell the kiosk's administrator.",
    ),
    "browser_crashed": (
        "Le navigateur de la borne s'est fermé brutalement. Relancez la visio.",
        "The kiosk's browser crashed. Start the call again.",
    ),
    "page_not_responding": (
        "La page de la visio ne répond plus. Relancez la visio.",
        "The call's page stopped responding. Start the call again.",
    ),
    "agent_never_came": (
        "L'agent n'a pas rejoint la visio à temps. Proposez un rappel ou un nouveau rendez-vous.",
        "The agent did not join in time. Offer a phone call back or a new appointment.",
    ),
    "connection_lost": (
        "La connexion avec l'agent est perdue. Vérifiez le réseau de la borne, puis "
        "relancez la visio.",
        "The connection with the agent is lost. Check the kiosk's network, then start the "
        "call again.",
    ),
}

_MEDIA_DEVICE_ERRORS = {"NotFoundError", "NotReadableError", "OverconstrainedError", "AbortError"}
_MEDIA_DENIED_ERRORS = {"NotAllowedError", "SecurityError"}
_CONNECTED = "connected"


@dataclass(frozen=True)
class Transition:
    state: State
    reason: str | None
    at: float
    detail: str | None = None


@dataclass
class _Track:
    kind: str
    muted: bool = True
    ended: bool = False


@dataclass
class _Peer:
    state: str = "new"
    closed: bool = False  # closed by the page itself
    remote_closed: bool = False  # the far end closed its side (DTLS close_notify)
    had_media: bool = False
    tracks: dict[str, _Track] = field(default_factory=dict)

    @property
    def open(self) -> bool:
        return not self.closed and self.state != "closed"

    @property
    def carries_call(self) -> bool:
        if not self.open or self.remote_closed or self.state != _CONNECTED or not self.had_media:
            return False
        return not self.tracks or not all(t.ended for t in self.tracks.values())


class SessionMachine:
    def __init__(self, timeouts: Timeouts) -> None:
        self.timeouts = timeouts
        self.state = State.IDLE
        self.reason: str | None = None
        self.detail: str | None = None
        self.reconnects = 0
        self.started_at: float | None = None
        self.agent_joined_at: float | None = None
        self.ended_at: float | None = None
        self.page_loaded = False
        self._entered = 0.0
        self._loaded_at: float | None = None
        self._media_error: tuple[str, float] | None = None
        self._media_ok = False
        self._peers: dict[str, _Peer] = {}

    # -- inputs ------------------------------------------------------------------------
    def start(self, now: float) -> list[Transition]:
        if self.state is not State.IDLE:
            raise RuntimeError(f"cannot start from {self.state}")
        self.started_at = now
        return self._go(now, State.LAUNCHING)

    def browser_ready(self, now: float) -> list[Transition]:
        if self.state is not State.LAUNCHING:
            return []
        return self._go(now, State.CONNECTING)

    def page_loaded_at(self, now: float) -> list[Transition]:
        if self.state in TERMINAL or self.page_loaded:
            return []
        self._mark_loaded(now)
        return self._evaluate(now)

    def _mark_loaded(self, now: float) -> None:
        if not self.page_loaded:
            self.page_loaded = True
            self._loaded_at = now

    def fail(self, now: float, reason: str, detail: str | None = None) -> list[Transition]:
        if self.state in TERMINAL or self.state is State.IDLE:
            return []
        return self._go(now, State.FAILED, reason, detail)

    def end(self, now: float, reason: str = "ended_by_staff") -> list[Transition]:
        if self.state in TERMINAL or self.state is State.IDLE:
            return []
        return self._go(now, State.ENDED, reason)

    def browser_gone(self, now: float, detail: str | None = None) -> list[Transition]:
        return self.fail(now, "browser_crashed", detail)

    def peers_gone(self, now: float, ids: list[str]) -> list[Transition]:
        """The frame holding these connections went away (navigation, iframe removed)."""
        if not ids or self.state in TERMINAL:
            return []
        in_call = self.state in (State.IN_CALL, State.RECONNECTING)
        for pc_id in ids:
            self._peers.pop(pc_id, None)
        if in_call and not any(p.open for p in self._peers.values()):
            return self._go(now, State.ENDED, "page_left")
        return self._evaluate(now)

    def report(self, now: float, msg: dict[str, Any]) -> list[Transition]:
        """One message from the injected script (see inject.js)."""
        if self.state in TERMINAL or self.state is State.IDLE:
            return []
        kind = msg.get("t")
        pc_id = msg.get("pc")
        if kind in ("gum", "pc"):
            self._mark_loaded(now)  # the page runs code: it is reachable
        if kind == "gum":
            if msg.get("ok"):
                self._media_ok = True
                self._media_error = None
            elif not self._media_ok and self._media_error is None:
                self._media_error = (str(msg.get("error", "Error")), now)
            return self._evaluate(now)
        if not isinstance(pc_id, str):
            return []
        peer = self._peers.get(pc_id)
        if kind == "pc":
            self._peers[pc_id] = _Peer(state=str(msg.get("state", "new")))
        elif peer is None:
            return []  # a connection created before we could see it: ignore its news
        elif kind == "state":
            peer.state = str(msg.get("state"))
            if "dtls" in msg and peer.state != "closed":
                peer.remote_closed = msg.get("dtls") == "closed"
        elif kind == "dtls":
            peer.remote_closed = msg.get("state") == "closed"
        elif kind == "closed":
            peer.closed = True
        elif kind == "track":
            track_id = str(msg.get("track"))
            track = peer.tracks.setdefault(track_id, _Track(kind=str(msg.get("kind"))))
            event = msg.get("ev")
            track.muted = bool(msg.get("muted", track.muted))
            if event == "ended" or msg.get("live") is False:
                track.ended = True
            if event == "unmute" or (not track.muted and not track.ended):
                peer.had_media = True  # media arrived (a track can be unmuted from the start)
        return self._evaluate(now)

    def media_seen(self, now: float, ids: list[str]) -> list[Transition]:
        """getStats() shows packets arriving on these connections (a backstop for events)."""
        changed = False
        for pc_id in ids:
            peer = self._peers.get(pc_id)
            if peer is not None and not peer.had_media:
                peer.had_media = changed = True
        return self._evaluate(now) if changed else []

    def tick(self, now: float) -> list[Transition]:
        """Fire the timeouts; call it often (e.g. every half second)."""
        t = self.timeouts
        elapsed = now - self._entered
        if self.state is State.LAUNCHING and elapsed >= t.launch:
            return self.fail(now, "browser_failed", f"no DevTools answer within {t.launch:g} s")
        if self.state in (State.CONNECTING, State.WAITING_AGENT):
            if self._media_error is not None and now - self._media_error[1] >= t.media:
                name = self._media_error[0]
                reason = "media_denied" if name in _MEDIA_DENIED_ERRORS else "no_media_device"
                return self.fail(now, reason, name)
            if not self.page_loaded and elapsed >= t.page and self.state is State.CONNECTING:
                return self.fail(now, "page_unreachable", f"not loaded within {t.page:g} s")
            if self._loaded_at is not None and now - self._loaded_at >= t.agent:
                return self.fail(now, "agent_never_came", f"no agent within {t.agent:g} s")
        if self.state is State.RECONNECTING and elapsed >= t.reconnect:
            return self.fail(now, "connection_lost", f"not back within {t.reconnect:g} s")
        return []

    # -- reading -----------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    def next_deadline(self) -> float | None:
        """When tick() may next change something (None: only inputs can)."""
        t = self.timeouts
        candidates = []
        if self.state is State.LAUNCHING:
            candidates.append(self._entered + t.launch)
        if self.state in (State.CONNECTING, State.WAITING_AGENT):
            if self._media_error is not None:
                candidates.append(self._media_error[1] + t.media)
            if not self.page_loaded and self.state is State.CONNECTING:
                candidates.append(self._entered + t.page)
            if self._loaded_at is not None:
                candidates.append(self._loaded_at + t.agent)
        if self.state is State.RECONNECTING:
            candidates.append(self._entered + t.reconnect)
        return min(candidates) if candidates else None

    # -- internals ---------------------------------------------------------------------
    def _evaluate(self, now: float) -> list[Transition]:
        if self.state not in ACTIVE:
            return []
        if any(p.carries_call for p in self._peers.values()):
            if self.state is not State.IN_CALL:
                if self.agent_joined_at is None:
                    self.agent_joined_at = now
                return self._go(now, State.IN_CALL)
            return []
        if self.state in (State.IN_CALL, State.RECONNECTING):
            open_peers = [p for p in self._peers.values() if p.open]
            if any(p.remote_closed for p in open_peers) and not any(
                p.state in ("new", "connecting") and not p.remote_closed for p in open_peers
            ):
                return self._go(now, State.ENDED, "far_end_left")
            if self._all_remote_tracks_ended(open_peers):
                return self._go(now, State.ENDED, "far_end_left")
            if not open_peers and self.state is State.IN_CALL:
                # A healthy call closed by the page: a hang-up. While reconnecting, a page
                # tearing its connection down is rebuilding it: wait for the new one.
                return self._go(now, State.ENDED, "call_closed")
            if self.state is State.IN_CALL:
                self.reconnects += 1
                return self._go(now, State.RECONNECTING)
            return []
        waiting = any(p.open for p in self._peers.values())
        target = State.WAITING_AGENT if waiting else State.CONNECTING
        return self._go(now, target) if target is not self.state else []

    @staticmethod
    def _all_remote_tracks_ended(peers: list[_Peer]) -> bool:
        tracks = [t for p in peers for t in p.tracks.values()]
        return bool(tracks) and all(t.ended for t in tracks)

    def _go(
        self, now: float, state: State, reason: str | None = None, detail: str | None = None
    ) -> list[Transition]:
        self.state = state
        self.reason = reason
        self.detail = detail
        self._entered = now
        if state in TERMINAL:
            self.ended_at = now
        return [Transition(state, reason, now, detail)]
