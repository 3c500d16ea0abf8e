"""Fixtures that tests in more than one folder use, loaded as a pytest plugin by
tests/conftest.py. A folder's own fixtures stay in its conftest.py."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.support.farend import FarEnd


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium")
    assert path, "chromium is not installed: run scripts/bootstrap.sh (it installs it)"
    return path


@pytest.fixture
async def far_end() -> AsyncIterator[FarEnd]:
    """The local room and its agent (an aiortc peer that joins by itself)."""
    far = FarEnd(auto_join=True)
    await far.start()
    try:
        yield far
    finally:
        await far.close()


@pytest.fixture(autouse=True)
def _sigpipe_stays_ignored(request: pytest.FixtureRequest) -> Iterator[None]:
    """See tests/support/sigpipe.py: a run killed by SIGPIPE says nothing of the test
    that caused it."""
    from tests.support.sigpipe import keep_ignored

    yield
    keep_ignored(request.node.nodeid)


@pytest.fixture(autouse=True)
def _language_back_to_default() -> Iterator[None]:
    """A test that changes the process's language leaves the default behind it."""
    from pvp_tui.core import i18n

    yield
    i18n.set_language(i18n.DEFAULT_LANGUAGE)
