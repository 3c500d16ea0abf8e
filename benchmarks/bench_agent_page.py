"""The agent's live page at scale: 200 visitors waiting across 40 sites, one agent who
sees every site, in real headless Chromium against a real `pvp-hub serve`.

Measured, each --runs / --updates times (medians printed):

- first paint: a fresh load of /agent (sign-in cookie set), the browser's own
  first-contentful-paint (from navigation start); the page draws its first 40 rows and
  agent-live.js fetches the rest at once: apart, when the whole list is on the page
  (its `pvp-list-whole` mark, from navigation start);
- a live update: a site pushes a check-in; agent-live.js's next poll fetches the list
  (/agent/visiteurs), parses it and swaps it in: the page's own figure for that poll
  (`data-updated-ms`: from the request's start to the DOM swapped), and, apart, the wait
  from the push to the row on screen (mostly the poll's interval, 5 s, not work);
- the list's answer on the server alone (httpx, same session), against the baseline:
  the same request for an agent whose list is empty (the page's fixed cost);
- a full reload's first paint, which the live update replaces (ratio update / reload);
- the baseline of the first paint: the same page for an agent whose list is empty.

Goal: first paint and each live update under 200 ms.

Usage: uv run python benchmarks/bench_agent_page.py [--sites 40] [--visitors 200]
       [--runs 15] [--updates 10] [--engine sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from pvp_hub import directory  # noqa: E402
from pvp_hub.database import make_engine  # noqa: E402
from tests.hub.browser import chromium, sign_in  # noqa: E402
from tests.hub.people_pages import PASSWORD  # noqa: E402
from tests.support.hub_daemons import HubProcess, PostgresCluster  # noqa: E402

NEEDS = ([], [], [], ["sign_language"], ["transcription", "hearing"], ["reduced_mobility"])


def median_ms(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ms (min {min(values):.1f}, max {max(values):.1f})"


def check_in(client: httpx.Client, token: str, ticket: str, needs: list[str]) -> str:
    visit_id = str(uuid.uuid4())
    now = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
    events: list[dict[str, Any]] = [
        {"id": str(uuid.uuid4()), "visit_id": visit_id, "type": "checked_in", "at": now,
         "data": {"partner": "caf", "ticket": ticket, "kind": "walk_in", "needs": needs}}
    ]  # fmt: skip
    answer = client.post(
        "/api/v1/site/events",
        json={"events": events},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
    )
    answer.raise_for_status()
    return visit_id


def server_ms(base: str, login: str, runs: int) -> list[float]:
    """The list's answer alone, signed in as `login` (httpx through the form)."""
    from tests.hub.people_pages import signed_in

    times = []
    with signed_in(base, login) as client:
        client.get("/agent/visiteurs").raise_for_status()  # warm
        for _ in range(runs):
            start = time.perf_counter()
            client.get("/agent/visiteurs").raise_for_status()
            times.append((time.perf_counter() - start) * 1000)
    return times


def first_paint(page: Any) -> float:
    """The browser's first-contentful-paint of the page just loaded (polled from here:
    the page's CSP forbids the string evaluation wait_for_function uses)."""
    fcp = "performance.getEntriesByName('first-contentful-paint').map(e => e.startTime)"
    for _ in range(200):
        found = page.evaluate(fcp)
        if found:
            return float(found[0])
        time.sleep(0.01)
    raise RuntimeError("no first-contentful-paint")


def navigation(page: Any) -> tuple[float, float]:
    """The page's own navigation timing: its first byte from the server, and the whole
    HTML received (ms from navigation start): what of the first paint is the server's."""
    timing = page.evaluate(
        "performance.getEntriesByType('navigation').map(e => [e.responseStart, e.responseEnd])"
    )
    return float(timing[0][0]), float(timing[0][1])


def whole_list(page: Any) -> float | None:
    """When agent-live.js had the whole list on the page (None: it was whole at once)."""
    mark = "performance.getEntriesByName('pvp-list-whole').map(e => e.startTime)"
    if page.locator("#more").count() == 0 and not page.evaluate(mark):
        return None
    for _ in range(500):
        found = page.evaluate(mark)
        if found:
            return float(found[0])
        time.sleep(0.01)
    raise RuntimeError("the list never became whole")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=40)
    parser.add_argument("--visitors", type=int, default=200)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-agent-") as tmp:
        cluster = None
        if args.engine == "postgresql":
            cluster = PostgresCluster()
            cluster.start()
            url = cluster.create_database("bench_agent")
        else:
            url = f"sqlite:///{tmp}/hub.db"
        hub = HubProcess(url, Path(tmp))
        hub.start()
        engine = make_engine(url, pool_size=2)
        try:
            run(args, hub, engine)
        finally:
            hub.stop()
            engine.dispose()
            if cluster is not None:
                cluster.stop()


def run(args: argparse.Namespace, hub: HubProcess, engine: Any) -> None:
    directory.create_region(engine, "bench", "Bench")
    partners = directory.check_partners(
        [{"id": "caf", "name": "CAF", "prefix": "C"}, {"id": "msa", "name": "MSA", "prefix": "M"}]
    )
    directory.save_partners(engine, "bench", partners)
    tokens = []
    for i in range(args.sites):
        directory.create_site(engine, "bench", f"site-{i:02d}", f"Maison France Services {i:02d}")
        tokens.append(directory.issue_token(engine, "bench", f"site-{i:02d}")[1])
    agent = "agent@caf.fr"
    directory.create_agent(engine, "bench", agent, "Agent CAF", "caf", None)
    directory.set_password(engine, agent, PASSWORD)
    empty = "agent@msa.fr"  # the baseline: the same page with an empty list
    directory.create_agent(engine, "bench", empty, "Agent MSA", "msa", None)
    directory.set_password(engine, empty, PASSWORD)

    with httpx.Client(base_url=hub.url, timeout=30) as client:
        for n in range(args.visitors):
            check_in(client, tokens[n % args.sites], f"C-{n + 1:03d}", NEEDS[n % len(NEEDS)])

        full = server_ms(hub.url, agent, args.runs)
        base = server_ms(hub.url, empty, args.runs)

        paints: list[float] = []
        reloads: list[float] = []
        empty_paints: list[float] = []
        updates: list[float] = []
        waits: list[float] = []
        wholes: list[float] = []
        first_bytes: list[float] = []
        html_ends: list[float] = []
        with chromium() as browser:
            context = browser.new_context(viewport={"width": 1366, "height": 768})
            page = context.new_page()
            sign_in(page, hub.url, agent)
            for _ in range(args.runs):
                page.goto(f"{hub.url}/agent")
                paints.append(first_paint(page))
                first_byte, html_end = navigation(page)
                first_bytes.append(first_byte)
                html_ends.append(html_end)
                whole = whole_list(page)
                if whole is not None:
                    wholes.append(whole)
            for _ in range(args.runs):
                page.reload()
                reloads.append(first_paint(page))
            # The baseline: the same page, same browser, for an agent whose list is empty.
            quiet = context.browser.new_context(viewport={"width": 1366, "height": 768})  # type: ignore[union-attr]
            empty_page = quiet.new_page()
            sign_in(empty_page, hub.url, empty)
            for _ in range(args.runs):
                empty_page.goto(f"{hub.url}/agent")
                empty_paints.append(first_paint(empty_page))
            quiet.close()
            rows = page.locator("#live tr[data-visit]")
            assert rows.count() == args.visitors, rows.count()
            for u in range(args.updates):
                start = time.perf_counter()
                new = check_in(client, tokens[u % args.sites], f"C-{900 + u}", ["sight"])
                page.locator(f'tr[data-visit="{new}"]').wait_for(timeout=30_000)
                waits.append((time.perf_counter() - start) * 1000)
                updates.append(float(page.locator("#live").get_attribute("data-updated-ms") or 0))

    print(f"agent page, {args.visitors} visitors waiting across {args.sites} sites "
          f"({args.engine}, headless Chromium)")  # fmt: skip
    print(f"  first paint (FCP), fresh load:      {median_ms(paints)}")
    print(f"    of which the HTML's first byte:   {median_ms(first_bytes)}")
    print(f"    and the whole HTML received:      {median_ms(html_ends)}")
    if wholes:
        print(f"  whole list on the page, fresh load: {median_ms(wholes)}")
    print(f"  first paint (FCP), reload:          {median_ms(reloads)}")
    print(f"  first paint (FCP), empty list:      {median_ms(empty_paints)}")
    ratio = statistics.median(paints) / statistics.median(empty_paints)
    print(f"  ratio FCP {args.visitors} / empty:             {ratio:.2f}x")
    print(f"  live update (fetch+parse+swap):     {median_ms(updates)}")
    print(f"  push -> row on screen (poll 5 s):   {median_ms(waits)}")
    print(f"  list on the server, {args.visitors} visitors:  {median_ms(full)}")
    print(f"  list on the server, empty (base):   {median_ms(base)}")
    ratio = statistics.median(full) / statistics.median(base)
    print(f"  ratio list {args.visitors} / empty:            {ratio:.2f}x")
    ratio = statistics.median(updates) / statistics.median(reloads)
    print(f"  ratio live update / reload FCP:     {ratio:.2f}x")
    goal = max(statistics.median(paints), statistics.median(updates)) < 200
    print(f"  goal (< 200 ms): {'met' if goal else 'NOT met'}")


if __name__ == "__main__":
    main()
