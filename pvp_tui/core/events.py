"""The names of the events in the visit log. Reports and statistics read these.

Every change of a visit appends one event (table `events`: id UUID, visit_id, site_id,
at UTC ISO, type, data JSON, actor). Event data never holds a visitor's name, phone or note
(name_shared excepted: the one event that records the visitor's consent to share a name).
"""

# The front desk (pvp_tui.core.frontdesk)
CHECKED_IN = "checked_in"  # partner, ticket, kind, appointment_at, priority, needs
CALLED = "called"  # from, to
BACK_TO_WAITING = "back_to_waiting"
STARTED = "started"
FINISHED = "finished"  # outcome
NO_SHOW = "no_show"
CANCELLED = "cancelled"
TRANSFERRED = "transferred"  # to_partner, to_visit, to_ticket (on the closed visit)
TRANSFERRED_IN = "transferred_in"  # from_partner, from_visit, from_ticket (on the new one)
NOTE_EDITED = "note_edited"  # length only
PERSONAL_DATA_ERASED = "personal_data_erased"
CLOSED_OVERNIGHT = "closed_overnight"  # from, to (cancelled), day: left open on a past day
# The visitor agreed that the agent sees their name: the only event that carries one
# (name, consent = true); the hub keeps the name apart and erases it at the end of the day.
NAME_SHARED = "name_shared"

# The video session at the kiosk (issue: video session)
SESSION_STARTED = "session_started"  # kiosk, partner, room host
SESSION_AGENT_JOINED = "session_agent_joined"
SESSION_RECONNECTING = "session_reconnecting"
SESSION_QUALITY = "session_quality"  # quality: good|degraded|poor (on change)
SESSION_ENDED = "session_ended"  # reason, worst_quality, reconnects, seconds_in_call
SESSION_INCIDENT = "session_incident"  # kind: call_lost|fallback_phone|new_appointment|...
# The visitor's answer to the kiosk's three faces after the call (anonymous: no name, no
# free text): kiosk, session, answer: good|ok|bad
SESSION_SATISFACTION = "session_satisfaction"
# The agent opened the visit's room from their page on the hub (written by the pull, at the
# hub's time, never pushed back; no data)
AGENT_OPENED_ROOM = "agent_opened_room"

# Documents at the kiosk (issue: documents)
DOCUMENT_CAPTURED = "document_captured"  # document, kiosk, type, pages, sha256
DOCUMENT_UPDATED = "document_updated"  # document, type, pages, sha256, consent (on change)
DOCUMENT_SENT = "document_sent"  # document (only with the visitor's consent)
DOCUMENT_PRINTED = "document_printed"  # document, printer, copies, pages
DOCUMENT_PURGED = "document_purged"  # document, kiosk, reason: visit_closed|deleted|gone
