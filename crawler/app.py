"""The composition root: config → store → fetcher → source → crawler → release hooks.

The daemon, the CLI and the tests build their parts here, so what runs with a stored release
(search index, topic tags, alert outbox) is decided in one place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from crawler.alerts import alerts_hook
from crawler.alerts.deliver import unknown_scheme
from crawler.archive import PageKeeper
from crawler.config import Config, ConfigError, SourceEntry, load_config
from crawler.fetch import Fetcher, PaceRegistry
from crawler.lock import StoreLock
from crawler.model import NotFound, StoreFull, StoreUnusable, UsageError
from crawler.pipeline import Crawler, PageHook, ReleaseHook
from crawler.searchindex import search_hook
from crawler.sources import SourceBook, source_of_entry
from crawler.sources import source_book as _source_book
from crawler.sources.base import Source
from crawler.store import Store
from crawler.tagging import Tagger, load_topicset
from crawler.topics.matcher import TopicSet


def load(config_path: str | os.PathLike[str] | None = None, *, store: str | os.PathLike[str] | None = None,
         secrets: bool = True) -> Config:
    """The config (embedded default, then the file or $PRESSWATCH_CONFIG), with `store` overriding
    store.path when given. `secrets=False` (commands that send nothing) tolerates alert secrets
    missing from the environment."""
    config = load_config(config_path, secrets=secrets)
    if store:
        config = dataclasses.replace(config, store=dataclasses.replace(config.store, path=str(store)),
                                     origin=config.origin)
    return config


def check_routes(config: Config, topics: TopicSet) -> None:
    """Refuse alert routes that could never deliver: a topic the topics file does not define (a
    typo would silence the route for ever), a URL whose scheme Apprise does not know. ConfigError
    naming the file, the route's key and the problem (exit code 2)."""
    for index, route in enumerate(config.alerts.routes):
        key = f"alerts.routes[{index}]"
        if not route.ops:
            for topic in route.topics:
                if topic not in topics.names:
                    raise ConfigError(config.origin, f"{key}.topics",
                                      f"route {route.name!r} names the topic {topic!r}, which {topics.source} "
                                      f"does not define{_nearest(topic, topics.names)}")
        for number, url in enumerate(route.urls):
            problem = unknown_scheme(url)
            if problem:
                raise ConfigError(config.origin, f"{key}.urls[{number}]", f"route {route.name!r}: {problem}")


def _nearest(name: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]}?)"
    return f" (its topics: {', '.join(known) or 'none'})"


def check_source_topics(config: Config, topics: TopicSet) -> None:
    """Refuse a source tagged with a topic the topics file does not define (its releases would be
    tagged with nothing of it, silently). ConfigError naming the source's key (exit code 2)."""
    for index, entry in enumerate(config.source_entries):
        for topic in entry.topics:
            if topic not in topics.names:
                raise ConfigError(config.origin, f"sources[{index}].topics",
                                  f"source {entry.name!r} names the topic {topic!r}, which {topics.source} "
                                  f"does not define{_nearest(topic, topics.names)}")


def load_checked(config_path: str | os.PathLike[str] | None = None, *, store: str | os.PathLike[str] | None = None,
                 secrets: bool = True) -> Config:
    """load(), then check_routes() and check_source_topics() against the topics file the config names."""
    config = load(config_path, store=store, secrets=secrets)
    if config.alerts.routes or any(entry.topics for entry in config.source_entries):
        topics = load_topicset(config)
        check_routes(config, topics)
        check_source_topics(config, topics)
    return config


def store_path(config: Config) -> Path:
    return config.resolve(config.store.path)


def open_store(config: Config, *, must_exist: bool = False, write: bool = False) -> Store:
    """The store of `config`, migrated as needed; a store that cannot be written is opened
    read-only unless `write`. One line, nothing created or changed, when it cannot be used:
    StoreUnusable (missing folder, not a presswatch store, a newer presswatch wrote it),
    StoreReadOnly (`write` and it cannot be written), NotFound (`must_exist` and none yet)."""
    path = store_path(config)
    if must_exist and not path.exists() and path.parent.is_dir():
        raise NotFound(f"no store at {path} yet: run `presswatch crawl` first (or pass --store PATH)")
    try:
        return Store.open(path, write=write)
    except (sqlite3.DatabaseError, OSError) as exc:
        raise StoreUnusable(f"cannot open the store {path}: {exc}") from None


@contextlib.contextmanager
def writing(config: Config, *, must_exist: bool = False) -> Iterator[Store]:
    """The store opened for writing, with the one-writer lock held (StoreLocked otherwise).

    The store is checked before the lock file is made beside it, and migrated only once the lock
    is held, so a store in use by an older daemon is not upgraded under it."""
    path = store_path(config)
    if must_exist and not path.exists() and path.parent.is_dir():
        raise NotFound(f"no store at {path} yet: run `presswatch crawl` first (or pass --store PATH)")
    try:
        store = Store.open(path, write=True, migrate=False)
    except (sqlite3.DatabaseError, OSError) as exc:
        raise StoreUnusable(f"cannot open the store {path}: {exc}") from None
    with store, StoreLock(path) as lock:
        try:
            with store.storage_errors():
                store.migrate()
                store.repair_full_text()  # left put off by a reparse that died
                yield store
        except StoreFull as exc:
            lock.note_failure(str(exc))  # `status` reports it: the store may not hold the failed run
            raise


def sources(config: Config, name: str | None = None) -> tuple[SourceEntry, ...]:
    """Every configured source, in the order written (a [source] table: that one); with `name`,
    only that one (`--source NAME`; an unknown name is a UsageError, as source_named says)."""
    return (source_named(config, name),) if name else config.sources


def source_named(config: Config, name: str) -> SourceEntry:
    """The configured source called `name`; a UsageError naming the nearest and the known ones."""
    for entry in config.sources:
        if entry.name == name:
            return entry
    names = tuple(entry.name for entry in config.sources)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise UsageError(f"no source {name!r} in {config.origin} (sources: {', '.join(names)}){hint}")


def _entry(config: Config, which: str | SourceEntry | None) -> SourceEntry:
    if isinstance(which, SourceEntry):
        return which
    return source_named(config, which) if which else config.sources[0]


def source(config: Config, name: str | SourceEntry | None = None) -> Source:
    """The Source adapter of one configured source (default: the first)."""
    return source_of_entry(_entry(config, name))


def source_book(config: Config) -> SourceBook:
    """Every configured source's adapter by name, for whoever shows stored rows: `get(name)` is
    the row's own source (display name, time zone, languages and their names and tags); a name the
    store holds and the config no longer has reads as itself, in UTC, with its stored languages."""
    return _source_book(config)


def source_config(config: Config, name: str | SourceEntry | None = None) -> Config:
    """`config` as one source's crawl sees it (Config.for_source): its [source] and selectors."""
    return config.for_source(_entry(config, name))


def tagger_for(config: Config, entry: SourceEntry, topics: TopicSet | None = None) -> Tagger:
    """Tags with the topics the source names (its `topics`; empty: the default topics)."""
    return Tagger((topics or load_topicset(config)).select(entry.topics or None))


def release_hooks(config: Config) -> list[ReleaseHook]:
    """What runs inside the transaction that stores a release version, after tagging."""
    return [search_hook, alerts_hook(config)]


def fetcher(config: Config, store: Store, *, paces: PaceRegistry | None = None) -> Fetcher:
    """The fetcher of `config`'s source (Config.for_source), keeping robots.txt in `store` between
    processes (so a `crawl` started by cron every few minutes reads it once a day, as the daemon
    does), and pacing its requests with every other fetcher of `paces` on the same host."""
    return Fetcher(config.source, paces=paces, robots_cache=store)


def page_keeper(config: Config, source: Source) -> PageHook | None:
    """What keeps the pages a crawl gets (crawler.archive), as `[archive] keep` says; None: nothing."""
    return PageKeeper(source.name, config.archive.keep) if config.archive.keep != "none" else None


def reparse_hooks(config: Config) -> list[ReleaseHook]:
    """What runs with a version `reparse` stores: the search index, never the alert outbox."""
    return [search_hook]


def build_crawler(config: Config, store: Store, fetcher: Fetcher | None = None, *,
                  source: str | SourceEntry | None = None, hooks: tuple[ReleaseHook, ...] = (),
                  progress: bool = False, keep_pages: bool = True) -> Crawler:
    """A crawler of one source (default: the first) with every release hook: search index, topic
    tags (the source's topics), alert outbox (and `hooks`), and the archive of pages unless
    `keep_pages` is False (pages replayed from the archive itself)."""
    entry = _entry(config, source)
    view = config.for_source(entry)
    site = source_of_entry(entry)
    return Crawler(view, store, fetcher, source=site, tagger=tagger_for(config, entry),
                   hooks=[*release_hooks(view), *hooks], progress=progress,
                   page_hook=page_keeper(view, site) if keep_pages else None)
