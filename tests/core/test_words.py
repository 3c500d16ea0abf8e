"""The words of actions and outcomes live in one module: pvp_tui.core.words."""

from __future__ import annotations

import ast
from pathlib import Path

import pvp_tui
from pvp_tui.core import i18n, words
from pvp_tui.core.models import ALLOWED_FROM, Outcome, Status

PACKAGE = Path(pvp_tui.__file__).parent
# A print job's states share a word with a visit's ("cancelled"), not its meaning.
OTHER_THINGS = {"ui/screens/documents/words.py"}


def test_every_status_outcome_and_action_has_its_words() -> None:
    assert set(words.STATUS) == {s.value for s in Status}
    assert set(words.OUTCOME) == set(words.OUTCOME_SHORT) == {o.value for o in Outcome}
    assert set(ALLOWED_FROM) == set(words.ACTION_PAST)
    assert set(ALLOWED_FROM) | {"check_in"} == set(words.DONE)


def test_labels_and_refusals_read_the_words_module() -> None:
    i18n.set_language("fr")
    try:
        assert Status.NO_SHOW.label == words.status_words("no_show") == "absent"
        assert Outcome.FOLLOW_UP.label == "suite à donner"
        assert words.done("no_show", ticket="C-003") == "C-003 : marqué absent."
        assert words.outcome_heading("technical_failure") == "Issue : échec technique"
        assert words.sentence(words.done("call", ticket="C-1", partner="CAF")) == (
            "C-1 appelé (CAF)."
        )
    finally:
        i18n.set_language("fr")


def test_no_other_module_words_an_action_or_an_outcome() -> None:
    """A msgid of pvp_tui.core.words written again elsewhere would be a second source."""
    own = {*words.STATUS.values(), *words.OUTCOME.values(), *words.OUTCOME_SHORT.values()}
    own |= set(words.DONE.values()) | set(words.FIGURES.values())
    own |= set(words.ACTION_PAST.values())
    twice = []
    for path in PACKAGE.rglob("*.py"):
        if path == Path(words.__file__) or str(path.relative_to(PACKAGE)) in OTHER_THINGS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("_", "N_")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value in own
            ):
                twice.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.args[0].value!r}")
    assert not twice, twice
