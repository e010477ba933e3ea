"""Fixtures shared by the test modules: local servers on 127.0.0.1 and logging hygiene."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest
from test_alerts_support import Mailbox, Webhook
from test_fetch import Loopback, make_source

from crawler.fetch import Fetcher


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """An HTTP receiver of Apprise's json:// posts."""
    with Webhook() as receiver:
        yield receiver


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd)."""
    with Mailbox() as receiver:
        yield receiver


@pytest.fixture(autouse=True)
def reset_logging() -> Iterator[None]:
    """`main()` points presswatch's log at the stderr of the moment (pytest's capture of one test):
    take that handler away afterwards, so a later test does not log into a closed stream."""
    import logging

    yield
    logger = logging.getLogger("presswatch")
    logger.handlers[:] = []
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


@pytest.fixture
def server() -> Iterator[Loopback]:
    loopback = Loopback().start()
    try:
        yield loopback
    finally:
        loopback.stop()


@pytest.fixture
def fetcher_for(server: Loopback) -> Iterator[Callable[..., Fetcher]]:
    made: list[Fetcher] = []

    def make(**changes: object) -> Fetcher:
        fetcher = Fetcher(make_source(server, **changes))
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        fetcher.close()


# A name that fails like one the resolver does not know, without asking any resolver: tests never
# look a name up on the network.
UNRESOLVABLE = "press-office.invalid"


@pytest.fixture
def unresolvable_name(monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == UNRESOLVABLE:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
