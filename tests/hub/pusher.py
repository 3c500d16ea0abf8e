"""A site's sender, as a separate process, for the hub's concurrency and crash tests.

    python -m tests.hub.pusher URL TOKEN BATCHES_JSON [START_AT]

BATCHES_JSON holds [{"key": ..., "events": [...]}, ...]. Each batch is sent until the hub
answers 200 (connection errors, 5xx and 409 are retried), then one JSON line is printed:
{"batch": i, "status": 200, "answer": {...}, "tries": n, "seen": [statuses...]}.
START_AT (a time.time() value) lets several processes send at the same instant.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import httpx


def main(url: str, token: str, batches_file: str, start_at: str = "0") -> int:
    batches = json.loads(Path(batches_file).read_text())
    time.sleep(max(0.0, float(start_at) - time.time()))
    auth = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 120
    with httpx.Client(base_url=url, timeout=10) as client:
        for index, batch in enumerate(batches):
            seen: list[int | str] = []
            while True:
                if time.monotonic() > deadline:
                    print(json.dumps({"batch": index, "status": "gave up", "seen": seen}))
                    return 1
                try:
                    answer = client.post(
                        "/api/v1/site/events",
                        json={"events": batch["events"]},
                        headers={**auth, "Idempotency-Key": batch["key"]},
                    )
                except httpx.TransportError as exc:
                    seen.append(type(exc).__name__)
                    time.sleep(0.05)
                    continue
                seen.append(answer.status_code)
                if answer.status_code == 200:
                    break
                if answer.status_code == 409 or answer.status_code >= 500:
                    time.sleep(0.02)
                    continue
                print(json.dumps({"batch": index, "status": answer.status_code,
                                  "answer": answer.json(), "seen": seen}))  # fmt: skip
                return 1
            line = {"batch": index, "status": 200, "answer": answer.json(), "seen": seen}
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
