"""A plain SSH terminal: `--no-mouse` really stops mouse reporting, and the queue screen
is readable in 256 and in 16 colours (read back from tmux with its colours)."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.support.terminals import PVP, in_terminal, tmux

from .colours import SGR, cells, contrast, sgr_codes
from .conftest import Site

pytestmark = pytest.mark.timeout(60)

MIN_CONTRAST = 3.0  # WCAG's floor for UI text; the terminals' own palettes


def _fill_queue(site: Site) -> None:
    """Three waiting (priority, appointment, sight), one called: through the real CLI."""
    env = {"PATH": "/usr/bin:/bin", **site.env()}

    def pvp(*args: str) -> None:
        subprocess.run([PVP, *args], env=env, check=True, capture_output=True, timeout=30)

    pvp("checkin", "--partner", "caf", "--name", "Jean Martin")
    pvp("checkin", "--partner", "france-travail", "--name", "Paul Durand", "--priority")
    pvp("checkin", "--partner", "cpam", "--name", "Éric Roy", "--need", "sight")
    pvp("checkin", "--partner", "caf", "--name", "Lucie Petit", "--appointment", "23:59")
    pvp("call")  # the priority walk-in: T-001


@pytest.mark.parametrize(
    ("flags", "reporting"), [([], "1"), (["--no-mouse"], "0")], ids=["mouse", "no-mouse"]
)
def test_no_mouse_turns_mouse_reporting_off(site: Site, flags: list[str], reporting: str) -> None:
    with tmux() as term:
        pane = term.new_session(in_terminal([PVP, *flags]), site.env())
        term.wait_for(pane, "F2 Accueil", what="the queue screen")
        # tmux knows whether the program in the pane asked for mouse events
        flag = term.run("display-message", "-p", "-t", pane, "#{mouse_any_flag}").strip()
        assert flag == reporting
        term.keys(pane, "F1")  # the keyboard still works
        term.wait_for(pane, "Fermer", what="the help screen")


@pytest.mark.parametrize(
    ("terminal", "extra", "allowed"),
    [
        ("xterm-256color", {}, {5}),  # 256 colours, no truecolor without COLORTERM
        ("xterm", {}, set()),  # 16 colours
        ("xterm-256color", {"TEXTUAL_COLOR_SYSTEM": "standard"}, set()),
    ],
    ids=["256", "16-xterm", "16-forced"],
)
def test_queue_screen_readable(
    site: Site, terminal: str, extra: dict[str, str], allowed: set[int]
) -> None:
    _fill_queue(site)
    with tmux() as term:
        pane = term.new_session(in_terminal([PVP], terminal, **extra), site.env())
        term.wait_for(pane, "Éric Roy", what="the filled queue")
        screen = term.run("capture-pane", "-e", "-p", "-t", pane)

    # only the colour kinds this terminal understands (38;5 = 256 colours, 38;2 = RGB)
    kinds = {
        codes[i + 1]
        for codes in sgr_codes(screen)
        for i, code in enumerate(codes[:-1])
        if code in (38, 48)
    }
    assert kinds <= allowed, f"colour sequences {kinds} on a {terminal} terminal"

    text = [c for c in cells(screen) if c.char.isalnum()]
    assert any(c.char == "É" for c in text)  # the screen was read, accents included
    worst = sorted(text, key=lambda c: contrast(c.fg, c.bg))[:5]
    assert contrast(worst[0].fg, worst[0].bg) >= MIN_CONTRAST, [
        (c.char, c.row, c.col, c.fg, c.bg, round(contrast(c.fg, c.bg), 2)) for c in worst
    ]

    # the selected row (first waiting) stands out from the others
    rows = {c.row: c.bg for c in text if c.col == 2}  # the ticket column's first letter
    lines = [SGR.sub("", line) for line in screen.splitlines()]
    first = next(r for r, line in enumerate(lines) if "C-001" in line)  # first in call order
    others = [r for r, line in enumerate(lines) if "A-001" in line or "C-002" in line]
    assert len(others) == 2 and all(rows[first] != rows[r] for r in others)


def test_cell_updates_leave_the_same_screen_as_a_fresh_start(site: Site) -> None:
    """Changed cells are sent alone (pvp_tui/ui/partial_updates.py crops both sides):
    after changes made elsewhere, the screen reads exactly as a pvp started afresh."""
    _fill_queue(site)
    env = {"PATH": "/usr/bin:/bin", **site.env()}
    with tmux() as term:
        running = term.new_session(in_terminal([PVP]), site.env())
        term.wait_for(running, "Éric Roy", what="the filled queue")
        for args in (
            ["note", "C-001", "rappeler"],
            ["note", "A-001", "dossier"],
            ["start", "T-001"],
        ):
            subprocess.run([PVP, *args], env=env, check=True, capture_output=True, timeout=30)
        term.wait_for(
            running,
            lambda s: s.count("✎") == 2 and "en cours" in s,
            what="the notes and the interview, as cell updates",
        )
        fresh = term.new_window(in_terminal([PVP]), site.env())
        term.wait_for(fresh, "en cours", what="a fresh pvp")

        def table(pane: str) -> list[str]:
            return term.screen(pane).splitlines()[:23]  # all but the footer

        deadline = time.monotonic() + 5  # the two may straddle a minute of the tick
        while table(running) != table(fresh) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert table(running) == table(fresh)


@pytest.mark.parametrize(
    ("terminal", "extra"),
    [("xterm-256color", {}), ("xterm", {})],
    ids=["256", "16-xterm"],
)
def test_check_in_form_readable(site: Site, terminal: str, extra: dict[str, str]) -> None:
    """The form's labels, fields and buttons (what is behind it may be dimmed)."""
    with tmux() as term:
        pane = term.new_session(in_terminal([PVP], terminal, **extra), site.env())
        term.wait_for(pane, "F2 Accueil", what="the queue")
        term.keys(pane, "F2")
        term.wait_for(pane, "Nouvel arrivant", what="the form")
        term.type(pane, "Mme Garnier")
        term.wait_for(pane, "Mme Garnier")
        screen = term.run("capture-pane", "-e", "-p", "-t", pane)
    lines = [SGR.sub("", line) for line in screen.splitlines()]
    top = next(r for r, line in enumerate(lines) if "Nouvel arrivant" in line)
    bottom = next(r for r, line in enumerate(lines) if "Enregistrer" in line)
    left = lines[top].index("Nouvel")
    right = lines[bottom].index("Enregistrer") + len("Enregistrer")
    inside = [
        c
        for c in cells(screen)
        if c.char.isalnum() and top <= c.row <= bottom and left <= c.col < right
    ]
    assert {c.char for c in inside} >= set("NouvelEnregistrerGarnier")
    worst = sorted(inside, key=lambda c: contrast(c.fg, c.bg))[:5]
    assert contrast(worst[0].fg, worst[0].bg) >= MIN_CONTRAST, [
        (c.char, c.row, c.col, c.fg, c.bg, round(contrast(c.fg, c.bg), 2)) for c in worst
    ]


Looks = set[tuple[tuple[int, int, int], tuple[int, int, int]]]


def _look(screen: str, word: str) -> Looks:
    """The colours of `word` on the check-in form's partner row."""
    lines = [SGR.sub("", line) for line in screen.splitlines()]
    top = next(r for r, line in enumerate(lines) if "Nouvel arrivant" in line)
    row = next(r for r, line in enumerate(lines) if "Partenaire" in line and r > top)
    start = lines[row].index(word)
    return {
        (c.fg, c.bg) for c in cells(screen) if c.row == row and start <= c.col < start + len(word)
    }


@pytest.mark.parametrize("terminal", ["xterm-256color", "xterm"], ids=["256", "16-xterm"])
def test_the_focused_field_stands_out(site: Site, terminal: str) -> None:
    """Tab from the name to the partner list: the list's text and its label change colours
    (not a shade: another colour pair), and stay readable."""
    with tmux() as term:
        pane = term.new_session(in_terminal([PVP], terminal), site.env())
        term.wait_for(pane, "F2 Accueil", what="the queue")
        term.keys(pane, "F2")
        term.wait_for(pane, "^s Enregistrer", what="the form")
        time.sleep(0.5)  # its first frame whole
        before = term.run("capture-pane", "-e", "-p", "-t", pane)
        term.keys(pane, "Tab")
        deadline = time.monotonic() + 5
        after = before
        while _look(after, "Partenaire") == _look(before, "Partenaire"):
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
            after = term.run("capture-pane", "-e", "-p", "-t", pane)
        time.sleep(0.3)  # the frame whole
        after = term.run("capture-pane", "-e", "-p", "-t", pane)

    for word in ("Partenaire", "Choisir"):
        blurred, focused = _look(before, word), _look(after, word)
        assert blurred and focused and blurred != focused, (word, blurred, focused)
        # another background, far from the one it had: not 234 -> 235
        assert all(contrast(f[1], b[1]) >= 1.5 for f in focused for b in blurred), word
        assert all(contrast(fg, bg) >= MIN_CONTRAST for fg, bg in focused), word
