"""The schema's migrations, applied by `Store` when one is pending.

Imported only then: a start on an up-to-date database reads the applied names with
plain SQL and never loads sqlite-utils (see `store.MIGRATION_NAMES`).
"""

from __future__ import annotations

from sqlite_utils import Database, Migrations

# store.MIGRATION_SET, written again here: the store imports this module, never the other
# way round (a test keeps the two equal, as it does the migrations' names).
MIGRATION_SET = "pvp_tui"
migrations = Migrations(MIGRATION_SET)


@migrations()
def m001_visits_and_events(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE visits (
            id TEXT PRIMARY KEY,
            site_id TEXT NOT NULL,
            day TEXT NOT NULL,
            prefix TEXT NOT NULL,
            seq INTEGER NOT NULL,
            ticket TEXT NOT NULL,
            partner_id TEXT NOT NULL,
            status TEXT NOT NULL,
            kind TEXT NOT NULL,
            appointment_at TEXT,
            priority INTEGER NOT NULL DEFAULT 0,
            needs TEXT NOT NULL DEFAULT '[]',
            outcome TEXT,
            arrived_at TEXT NOT NULL,
            called_at TEXT,
            started_at TEXT,
            ended_at TEXT,
            transferred_from TEXT REFERENCES visits(id),
            updated_at TEXT NOT NULL,
            UNIQUE (site_id, day, ticket)
        )
        """
    )
    db.execute("CREATE INDEX visits_status ON visits(status)")
    db.execute("CREATE INDEX visits_day ON visits(site_id, day)")
    # Personal data lives apart so that erasing it leaves the anonymous visit intact.
    db.execute(
        """
        CREATE TABLE visitor_details (
            visit_id TEXT PRIMARY KEY REFERENCES visits(id),
            name TEXT NOT NULL,
            phone TEXT,
            note TEXT NOT NULL DEFAULT ''
        )
        """
    )
    db.execute(
        """
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            visit_id TEXT NOT NULL REFERENCES visits(id),
            site_id TEXT NOT NULL,
            at TEXT NOT NULL,
            type TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}',
            actor TEXT
        )
        """
    )
    db.execute("CREATE INDEX events_visit ON events(visit_id)")
    db.execute("CREATE INDEX events_type_at ON events(type, at)")
    for operation in ("UPDATE", "DELETE"):
        db.execute(
            f"""
            CREATE TRIGGER events_append_only_{operation.lower()}
            BEFORE {operation} ON events
            BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END
            """
        )


@migrations()
def m002_ticket_lookup(db: Database) -> None:
    # Staff name visits by ticket ("C-007"): find them without scanning every past visit.
    db.execute("CREATE INDEX visits_ticket ON visits(site_id, ticket, day)")


@migrations()
def m003_interview_lengths(db: Database) -> None:
    # The learned interview medians read the latest finished visits of each partner.
    db.execute("CREATE INDEX visits_done ON visits(partner_id, status, ended_at)")


@migrations()
def m004_pending_erasure(db: Database) -> None:
    # A purge committed but whose erased text may remain in the files (WAL, free space):
    # the next purge or start finishes it (FrontDesk.purge_personal_data).
    db.execute(
        """
        CREATE TABLE pending_erasure (
            id INTEGER PRIMARY KEY,
            vacuum INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    # A store written before secure_delete was set may hold erased text in free space.
    if db.execute("SELECT 1 FROM visits LIMIT 1").fetchone():
        db.execute("INSERT INTO pending_erasure (vacuum) VALUES (1)")


@migrations()
def m005_outbox(db: Database) -> None:
    # What the hub must receive, written in the same transaction as the event itself
    # (FrontDesk.append_event) when a hub is configured; a row leaves only once the hub
    # answered 2xx for the batch that carried it (pvp_tui.core.sync, docs/sync.md).
    db.execute(
        """
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL UNIQUE,
            body TEXT NOT NULL,
            queued_at TEXT NOT NULL,
            batch_id INTEGER REFERENCES outbox_batches(id)
        )
        """
    )
    db.execute("CREATE INDEX outbox_batch ON outbox(batch_id, seq)")
    # A batch keeps its Idempotency-Key and its exact body until a 2xx: a retry sends the
    # same bytes under the same key. `held`: the hub refused it (4xx); kept, never dropped.
    db.execute(
        """
        CREATE TABLE outbox_batches (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL UNIQUE,
            body BLOB NOT NULL,
            events INTEGER NOT NULL,
            made_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'held')),
            tries INTEGER NOT NULL DEFAULT 0,
            status INTEGER,
            error TEXT
        )
        """
    )
    # One row: which process sends (the lease), and what the last exchanges said.
    db.execute(
        """
        CREATE TABLE sync_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            holder TEXT,
            lease_until REAL NOT NULL DEFAULT 0,
            last_success_at TEXT,
            last_error_at TEXT,
            last_error TEXT,
            failing_since TEXT,
            sent INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    db.execute("INSERT INTO sync_state (id) VALUES (1)")


@migrations()
def m007_pull(db: Database) -> None:
    # What the site pulls from its hub (pvp_tui.core.pull, docs/sync.md "Pull"): the
    # feed's cursor and the hub's site record; the region's partners, which replace the
    # config's list once present (`retired`: removed on the hub, kept for the names of
    # past visits); the site's appointments, whose personal details live apart and are
    # erased by the store's retention rule (FrontDesk.purge_personal_data).
    db.execute(
        """
        CREATE TABLE pull_state (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            cursor TEXT,
            last_pull_at TEXT,
            site TEXT,
            directory_version INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    db.execute("INSERT INTO pull_state (id) VALUES (1)")
    db.execute(
        """
        CREATE TABLE hub_partners (
            id TEXT PRIMARY KEY,
            body TEXT NOT NULL,
            retired INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE appointments (
            id TEXT PRIMARY KEY,
            partner_id TEXT NOT NULL,
            starts_at TEXT NOT NULL,
            ends_at TEXT,
            day TEXT NOT NULL,
            status TEXT NOT NULL,
            source TEXT NOT NULL,
            visit_id TEXT REFERENCES visits(id),
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX appointments_day ON appointments(day, starts_at)")
    db.execute(
        """
        CREATE TABLE appointment_details (
            appointment_id TEXT PRIMARY KEY REFERENCES appointments(id),
            name TEXT,
            phone TEXT,
            room_url TEXT
        )
        """
    )


@migrations()
def m009_hub_documents(db: Database) -> None:
    # Documents an agent sent to print at this site (pvp_tui.core.hub_documents, docs/sync.md
    # "Documents to print"): the pull records each one, the sync worker downloads its bytes
    # (kept apart, in `hub_document_content`, erased with secure_delete when the visit
    # closes) and sends the hub its receipts. `receipt_due`: the step the hub has not
    # acknowledged yet (the latest one wins: the hub keeps each step's first time).
    db.execute(
        """
        CREATE TABLE hub_documents (
            id TEXT PRIMARY KEY,
            visit_id TEXT NOT NULL,
            doc_type TEXT NOT NULL,
            pages INTEGER,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            content_path TEXT NOT NULL,
            sent_at TEXT,
            state TEXT NOT NULL DEFAULT 'pending' CHECK (
                state IN ('pending', 'received', 'printed', 'print_failed', 'gone', 'erased')
            ),
            received_at TEXT,
            printed_at TEXT,
            print_error TEXT,
            tries INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            receipt_due TEXT CHECK (receipt_due IN ('received', 'printed', 'print_failed')),
            receipt_reason TEXT,
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX hub_documents_visit ON hub_documents(visit_id)")
    db.execute(
        "CREATE INDEX hub_documents_due ON hub_documents(receipt_due) WHERE receipt_due IS NOT NULL"
    )
    db.execute(
        """
        CREATE TABLE hub_document_content (
            document_id TEXT PRIMARY KEY REFERENCES hub_documents(id),
            content BLOB NOT NULL
        )
        """
    )


@migrations()
def m010_hub_uploads(db: Database) -> None:
    # Documents the desk sends to the agent (pvp_tui.core.hub_uploads, docs/sync.md
    # "Documents to the agent"): queued with the visitor's consent, sent by the sync worker
    # in chunks (resumed from the hub's `received_bytes`), then followed until the agent
    # opens them. `hub_upload_content` is the spool: the bytes until the hub holds them
    # whole, erased with secure_delete then, or when consent is withdrawn or the visit
    # closes. `id` is the hub's (pvp_common.document_ids.site_document_id).
    db.execute(
        """
        CREATE TABLE hub_uploads (
            id TEXT PRIMARY KEY,
            document TEXT NOT NULL,
            visit_id TEXT NOT NULL,
            doc_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'waiting' CHECK (
                state IN ('waiting', 'sent', 'opened', 'refused', 'erased')
            ),
            sent_bytes INTEGER NOT NULL DEFAULT 0,
            queued_at TEXT NOT NULL,
            sent_at TEXT,
            opened_at TEXT,
            tries INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX hub_uploads_visit ON hub_uploads(visit_id)")
    db.execute(
        "CREATE INDEX hub_uploads_open ON hub_uploads(state) WHERE state IN ('waiting', 'sent')"
    )
    db.execute(
        """
        CREATE TABLE hub_upload_content (
            upload_id TEXT PRIMARY KEY REFERENCES hub_uploads(id),
            content BLOB NOT NULL
        )
        """
    )
