"""Printing through a real pvp-bridge and a private cupsd (cups-pdf, ippeveprinter)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk_bridge.client import BridgeClient, BridgeError
from tests.bridge.conftest import Lab
from tests.support.bridge_client import Events, small_pdf
from tests.support.bridge_daemons import BridgeProcess


@pytest.fixture
def sim(lab: Lab) -> Iterator[Lab]:
    """The ippeveprinter queue, put back to normal (running, mode ok) after the test."""
    lab.ippe.set_mode("ok")
    yield lab
    lab.ippe.set_mode("ok")
    if lab.ippe.proc is None or lab.ippe.proc.poll() is not None:
        lab.ippe.start()
    lab.cups.run("cancel", "-a", "pvp-ippe")


async def put(client: BridgeClient, color: str = "red") -> str:
    return str((await client.put_document(small_pdf(color)))["id"])


def printer(printers: list[dict], name: str) -> dict:
    return next(p for p in printers if p["name"] == name)


async def test_list_gives_states_and_plain_reasons(client: BridgeClient) -> None:
    printers = (await client.request("printer.list"))["printers"]
    names = {p["name"] for p in printers}
    assert {"pvp-pdf", "pvp-ippe", "pvp-null", "pvp-paused", "pvp-reject"} <= names
    paused = printer(printers, "pvp-paused")
    assert paused["state"] == "stopped" and "paused" in [r["code"] for r in paused["reasons"]]
    reject = printer(printers, "pvp-reject")
    assert not reject["accepting"] and "rejecting" in [r["code"] for r in reject["reasons"]]
    assert all(r["message"]["fr"] and r["message"]["en"] for p in printers for r in p["reasons"])


async def test_print_to_cups_pdf_follows_the_job_to_completed(
    client: BridgeClient, events: Events
) -> None:
    doc = await put(client)
    job = (await client.request("printer.print", {"document": doc, "printer": "pvp-pdf"}))["job"]
    assert job["printer"] == "pvp-pdf" and job["document"] == doc and not job["final"]
    done = await events.wait("print.job", timeout=30, job=job["job"], final=True)
    assert done["state"] == "completed" and done["reason"] == "completed"
    jobs = (await client.request("printer.jobs", {"printer": "pvp-pdf"}))["jobs"]
    assert any(j["job"] == job["job"] and j["state"] == "completed" for j in jobs)
    assert job["job"] not in [
        j["job"] for j in (await client.request("printer.jobs", {"active_only": True}))["jobs"]
    ]


async def test_paper_out_is_reported_then_the_job_completes(
    client: BridgeClient, events: Events, sim: Lab
) -> None:
    sim.ippe.set_mode("paperout")
    doc = await put(client)
    job = (await client.request("printer.print", {"document": doc, "printer": "pvp-ippe"}))["job"]
    waiting = await events.wait_for(
        "print.job",
        lambda d: d["job"] == job["job"] and "paper_out" in d["printer_reasons"],
        timeout=30,
    )
    assert waiting["state"] == "processing" and not waiting["final"]
    # The queue's own state follows the job's a moment later in cupsd (seen in a fresh
    # Debian root): printer.list says it once cupsd does.
    codes: list[str] = []
    for _ in range(100):
        listed = printer((await client.request("printer.list"))["printers"], "pvp-ippe")
        codes = [r["code"] for r in listed["reasons"]]
        if "paper_out" in codes:
            break
        await asyncio.sleep(0.1)
    assert "paper_out" in codes
    sim.ippe.set_mode("ok")  # paper loaded
    done = await events.wait("print.job", timeout=30, job=job["job"], final=True)
    assert done["state"] == "completed"


async def test_device_failure_ends_the_job_with_its_reason(
    client: BridgeClient, events: Events, sim: Lab
) -> None:
    sim.ippe.set_mode("fail")
    doc = await put(client)
    job = (await client.request("printer.print", {"document": doc, "printer": "pvp-ippe"}))["job"]
    done = await events.wait("print.job", timeout=30, job=job["job"], final=True)
    assert done["state"] == "canceled" and done["reason"] == "canceled_at_printer"


async def test_cancel_a_job_then_cancel_again(
    client: BridgeClient, events: Events, sim: Lab
) -> None:
    sim.ippe.set_mode("paperout")
    doc = await put(client)
    job = (await client.request("printer.print", {"document": doc, "printer": "pvp-ippe"}))["job"]
    await events.wait("print.job", timeout=30, job=job["job"], state="processing")
    canceled = (await client.request("printer.cancel", {"job": job["job"]}))["job"]
    done = await events.wait("print.job", timeout=30, job=job["job"], final=True)
    assert canceled["job"] == job["job"]
    assert done["state"] == "canceled" and done["reason"] == "canceled_by_user"
    with pytest.raises(BridgeError) as err:
        await client.request("printer.cancel", {"job": job["job"]})
    assert err.value.code == "job_finished"
    with pytest.raises(BridgeError) as err:
        await client.request("printer.cancel", {"job": 999999})
    assert err.value.code == "job_not_found"


@pytest.mark.parametrize(
    ("queue", "code", "retryable"),
    [
        ("pvp-paused", "printer_paused", True),
        ("pvp-reject", "printer_rejecting", True),
        ("no-such-queue", "printer_not_found", False),
    ],
)
async def test_queue_problems_have_stable_codes(
    client: BridgeClient, queue: str, code: str, retryable: bool
) -> None:
    doc = await put(client)
    with pytest.raises(BridgeError) as err:
        await client.request("printer.print", {"document": doc, "printer": queue})
    assert err.value.code == code and err.value.retryable is retryable
    assert queue in err.value.message["fr"] and queue in err.value.message["en"]
    jobs = (await client.request("printer.jobs", {"printer": queue}))["jobs"]
    assert jobs == []  # nothing half-done


async def test_unknown_document(client: BridgeClient) -> None:
    with pytest.raises(BridgeError) as err:
        await client.request(
            "printer.print", {"document": "doc_0000000000000000", "printer": "pvp-pdf"}
        )
    assert err.value.code == "document_not_found"


async def test_cupsd_down_gives_printer_unavailable(
    lab: Lab, new_bridge: Callable[..., BridgeProcess]
) -> None:
    env = {**lab.env, "CUPS_SERVER": str(lab.root / "no-cupsd-here.sock")}
    b = new_bridge(env=env)
    async with BridgeClient(b.url, b.token, reconnect=False) as c:
        with pytest.raises(BridgeError) as err:
            await c.request("printer.list")
        assert err.value.code == "printer_unavailable" and err.value.retryable
        doc = await put(c)
        with pytest.raises(BridgeError) as err:
            await c.request("printer.print", {"document": doc, "printer": "pvp-pdf"})
        assert err.value.code == "printer_unavailable"
        health = await c.request("health.get")
        assert health["cups"] == "down"


async def test_offline_printer_and_bridge_killed_during_the_job(
    lab: Lab, sim: Lab, new_bridge: Callable[..., BridgeProcess]
) -> None:
    """Printer unplugged mid-job, bridge SIGKILLed and restarted: the job is found again
    and followed to the end once the printer is back."""
    b = new_bridge()
    sim.ippe.kill()
    async with BridgeClient(b.url, b.token, reconnect=False) as c:
        ev = Events()
        c.subscribe(ev)
        doc = await put(c)
        job = (await c.request("printer.print", {"document": doc, "printer": "pvp-ippe"}))["job"]
        offline = await ev.wait_for(
            "print.job",
            lambda d: d["job"] == job["job"] and "offline" in d["printer_reasons"],
            timeout=30,
        )
        assert offline["state"] == "processing"
        listed = printer((await c.request("printer.list"))["printers"], "pvp-ippe")
        assert "offline" in [r["code"] for r in listed["reasons"]]
    b.kill()
    b.start()
    async with BridgeClient(b.url, b.token, reconnect=False) as c:
        ev = Events()
        c.subscribe(ev)
        jobs = (await c.request("printer.jobs", {"active_only": True}))["jobs"]
        assert [j["job"] for j in jobs] == [job["job"]]
        sim.ippe.start()  # printer back
        done = await ev.wait("print.job", timeout=60, job=job["job"], final=True)
        assert done["state"] == "completed"


async def test_print_job_events_reach_every_client(
    bridge: BridgeProcess, client: BridgeClient
) -> None:
    async with BridgeClient(bridge.url, bridge.token, reconnect=False) as other:
        ev = Events()
        other.subscribe(ev)
        doc = await put(client)
        job = await client.request("printer.print", {"document": doc, "printer": "pvp-null"})
        done = await ev.wait("print.job", timeout=30, job=job["job"]["job"], final=True)
        assert done["state"] == "completed"
        await asyncio.sleep(0)


async def test_copies_and_duplex_reach_cups(lab: Lab, client: BridgeClient, events: Events) -> None:
    import cups

    doc = await put(client)
    job = (
        await client.request(
            "printer.print",
            {"document": doc, "printer": "pvp-null", "copies": 3, "duplex": True},
        )
    )["job"]
    os.environ["CUPS_SERVER"] = lab.cups.env["CUPS_SERVER"]
    attrs = cups.Connection().getJobAttributes(
        job["job"], requested_attributes=["copies", "sides", "document-name-supplied"]
    )
    assert attrs["copies"] == 3 and attrs["sides"] == "two-sided-long-edge"
    assert attrs["document-name-supplied"].startswith(f"pvp-{doc}-")  # no visitor data
    await events.wait("print.job", timeout=30, job=job["job"], final=True)


async def test_a_submit_cut_short_by_a_crash_is_found_again(lab: Lab) -> None:
    """The bridge died between CUPS accepting the job and writing its id down: the intent
    it wrote before submitting lets the next start find the job by its title."""
    root = lab.root / "bridge-intent"
    b = BridgeProcess(root, lab.env, config="[printer]\noffline_after = 1\n")
    state = b.spool / "state"
    state.mkdir(parents=True)
    title = "pvp-doc_1234567890abcdef-abcd1234"
    intent = {"title": title, "printer": "pvp-null", "document": "doc_1234567890abcdef",
              "copies": 1, "duplex": False, "submitted": time.time()}  # fmt: skip
    (state / "print-jobs.json").write_text(
        json.dumps({"jobs": [], "intents": {"abcd1234": intent}})
    )
    pdf = root / "page.pdf"
    pdf.write_bytes(small_pdf())
    named = root / f"{title}.pdf"  # as the bridge submits it
    named.write_bytes(pdf.read_bytes())
    out = lab.cups.run("lp", "-d", "pvp-null", "-t", title, str(named))
    job_id = int(out.split("pvp-null-")[1].split()[0])
    try:
        b.start()
        async with BridgeClient(b.url, b.token, reconnect=False) as c:
            jobs = (await c.request("printer.jobs"))["jobs"]
            assert [(j["job"], j["document"]) for j in jobs] == [(job_id, intent["document"])]
        saved = json.loads((state / "print-jobs.json").read_text())
        assert saved["intents"] == {} and saved["jobs"][0]["job"] == job_id
    finally:
        b.stop()


def test_printer_reasons_in_plain_words() -> None:
    from kiosk_bridge.printer import describe_printer, final_reason, plain_reason

    assert plain_reason("media-empty-error")["code"] == "paper_out"  # type: ignore[index]
    assert plain_reason("toner-low-warning")["code"] == "toner_low"  # type: ignore[index]
    assert plain_reason("marker-supply-empty-error")["code"] == "toner_empty"  # type: ignore[index]
    assert plain_reason("cups-waiting-for-job-completed") is None and plain_reason("none") is None
    odd = plain_reason("spool-area-full")
    assert odd is not None and odd["code"] == "other" and odd["cups"] == "spool-area-full"
    p = describe_printer(
        "q",
        {"printer-state": 5, "printer-state-reasons": ["paused", "media-needed-warning"],
         "printer-type": 0x80000},
        default="q", offline=True,
    )  # fmt: skip
    assert p["state"] == "stopped" and not p["accepting"] and p["default"]
    assert [r["code"] for r in p["reasons"]] == ["paused", "paper_out", "rejecting", "offline"]
    assert final_reason("canceled", [], "Print job canceled at printer.") == "canceled_at_printer"
    assert final_reason("aborted", ["unprintable"], "") == "unprintable"
    assert final_reason("processing", [], "") is None


async def test_the_state_file_forgets_jobs_older_than_a_day(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bridge running for weeks: the print jobs' state file keeps a day's jobs, not
    every job since the bridge started (the real cupsd; nothing is printing)."""
    from kiosk_bridge.printer import PrinterService

    state = tmp_path / "print-jobs.json"
    old = time.time() - 2 * 86400
    job = {"printer": "pvp-null", "document": "doc_0123456789abcdef", "copies": 1,
           "duplex": False, "state": "completed", "final": True}  # fmt: skip
    jobs = [
        {**job, "job": 1, "title": "pvp-a", "submitted": old, "finished": old + 5},
        {**job, "job": 2, "title": "pvp-b", "submitted": time.time(), "finished": time.time()},
    ]
    state.write_text(json.dumps({"jobs": jobs, "intents": {}}))
    for key, value in lab.cups.env.items():
        monkeypatch.setenv(key, value)
    service = PrinterService(state, lambda event, data: None)
    try:
        await service.start()
        deadline = time.monotonic() + 10
        while [j["job"] for j in json.loads(state.read_text())["jobs"]] != [2]:
            assert time.monotonic() < deadline, state.read_text()
            await asyncio.sleep(0.05)
    finally:
        await service.close()
