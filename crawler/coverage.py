"""Coverage of the id range: which ids are missing between the first and the last one stored.

Release ids are shared by the languages and rise with publication, so an id missing inside the
stored range of a language is visible. It may be a release the crawl never reached (a list page
skipped, a crash), a translation not out yet, or an id the site used for another section: only
fetching it tells. `presswatch backfill --gaps` does that; its answers are remembered
(`pending_translations`: 'absent' for an id no language has, 'pending' for a translation not out
yet), so a settled gap is reported as probed, not as missing again.

A source whose language versions each have their own id (`shared_ids` false) has one id sequence
for all its languages: a gap there is an id stored in no language, reported once, under
`ANY_LANGUAGE`. A source whose addresses are not built from ids (`item_urls_from_ids` false: a slug
site) cannot have a gap probed: its report says so, and `backfill_gaps` refuses it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Any

from crawler.model import UsageError
from crawler.pipeline import Crawler, RunSummary
from crawler.store import Store

# How many missing ranges a report lists per language (the count covers all of them).
RANGES_SHOWN = 5
# The report's key for a source whose ids are not shared across languages: one sequence for them all.
ANY_LANGUAGE = "any language"


@dataclass
class LanguageCoverage:
    lang: str
    first: int | None = None
    last: int | None = None
    stored: int = 0
    missing_ranges: list[tuple[int, int]] = field(default_factory=list)
    absent: int = 0  # probed: no language has the id
    pending: int = 0  # probed: a translation not out yet (retried by the crawl) or given up
    probe: str | None = "backfill --gaps"  # the command that probes the missing ids (None: none can)

    @property
    def missing(self) -> int:
        return sum(last - first + 1 for first, last in self.missing_ranges)

    def missing_ids(self) -> list[int]:
        return [item_id for first, last in self.missing_ranges for item_id in range(first, last + 1)]

    def report(self, ranges_shown: int = RANGES_SHOWN) -> dict[str, Any]:
        return {
            "first_id": self.first, "last_id": self.last, "stored": self.stored,
            "missing": self.missing, "missing_range_count": len(self.missing_ranges),
            "missing_ranges": [[first, last] for first, last in self.missing_ranges[:ranges_shown]],
            "probed_absent": self.absent, "probed_pending": self.pending, "probe": self.probe,
        }


def language_coverage(store: Store, source: str, lang: str | None) -> LanguageCoverage:
    """The gaps of `lang` (None: of the ids stored in any language) inside the id range `source`
    stored, split into missing (never probed) and probed. Ids are per source: another source's ids
    neither fill nor open a gap."""
    first, last, stored, gaps = store.stored_id_gaps(source, lang)
    coverage = LanguageCoverage(lang or ANY_LANGUAGE, first, last, stored)
    probed = store.probed_missing(source, lang) if lang else {}
    # An 'absent' id that another language has since stored was probed in the wrong order: not settled.
    for item_id in store.release_ids_stored(source, [i for i, state in probed.items() if state == "absent"]):
        del probed[item_id]
    probed_ids = sorted(probed)
    for gap_first, gap_last in gaps:
        next_missing = gap_first
        for item_id in probed_ids[bisect_left(probed_ids, gap_first):bisect_right(probed_ids, gap_last)]:
            if item_id > next_missing:
                coverage.missing_ranges.append((next_missing, item_id - 1))
            next_missing = item_id + 1
            if probed[item_id] == "absent":
                coverage.absent += 1
            else:
                coverage.pending += 1
        if next_missing <= gap_last:
            coverage.missing_ranges.append((next_missing, gap_last))
    return coverage


def coverage(store: Store, source: str, languages: tuple[str, ...] | list[str], *, shared_ids: bool = True,
             item_urls_from_ids: bool = True) -> dict[str, LanguageCoverage]:
    """Per language where ids are shared; else one entry, `ANY_LANGUAGE`, for the ids of them all."""
    found = ({lang: language_coverage(store, source, lang) for lang in languages} if shared_ids
             else {ANY_LANGUAGE: language_coverage(store, source, None)})
    if not item_urls_from_ids:
        for each in found.values():
            each.probe = None
    return found


def coverage_report(store: Store, source: str, languages: tuple[str, ...] | list[str], *, shared_ids: bool = True,
                    item_urls_from_ids: bool = True) -> dict[str, dict[str, Any]]:
    """Per language (or `ANY_LANGUAGE`): first_id, last_id, stored, missing, missing_range_count,
    missing_ranges (the first few, as [first, last]), probed_absent, probed_pending, probe (the
    command that probes the missing ids, or None where the source's addresses are not built from ids)."""
    found = coverage(store, source, languages, shared_ids=shared_ids, item_urls_from_ids=item_urls_from_ids)
    return {key: each.report() for key, each in found.items()}


def gap_keys(store: Store, source: str, languages: tuple[str, ...] | list[str],
             limit: int | None = None, *, shared_ids: bool = True) -> list[tuple[int, str]]:
    """(id, lang) to probe: every missing id in each language it is missing in (an id stored in no
    language, where ids are not shared: in every language, since which one it belongs to is unknown);
    with `limit`, only the newest `limit` ids (newer gaps matter more to a monitor)."""
    per_id: dict[int, list[str]] = {}
    for lang, found in coverage(store, source, languages, shared_ids=shared_ids).items():
        for item_id in found.missing_ids():
            per_id.setdefault(item_id, []).extend([lang] if shared_ids else languages)
    ids = sorted(per_id, reverse=True)[:limit] if limit else sorted(per_id, reverse=True)
    return [(item_id, lang) for item_id in sorted(ids) for lang in per_id[item_id]]


def check_gaps_probeable(source: Any) -> None:
    """Refuse (UsageError) a source whose release addresses are not built from ids: a gap, an id
    never listed, has no address to fetch."""
    if not getattr(source, "item_urls_from_ids", True):
        raise UsageError(
            f"source {source.name}: its release addresses are not built from ids (no item_url), so a missing id "
            f"cannot be fetched; read older list pages instead: presswatch backfill --source {source.name} "
            "--pages N (or --since DATE)")


def backfill_gaps(crawler: Crawler, limit: int | None = None) -> RunSummary:
    """Fetch exactly the missing ids; each ends stored, absent, pending (not translated yet) or an
    error. Versions the run never reached (it failed or was stopped) are counted in its summary
    line (RunSummary.skipped), so it never reads as complete."""
    check_gaps_probeable(crawler.source)
    store = crawler.store
    keys = gap_keys(store, crawler.source.name, crawler.config.source.languages, limit,
                    shared_ids=getattr(crawler.source, "shared_ids", True))
    summary = crawler.backfill_versions(keys)
    # Probed in id-then-language order, an id's first language may have answered 404 while it was
    # still known nowhere ('absent'), and a later one found it: that 404 is a missing translation.
    store.reopen_absent_found_elsewhere(crawler.source.name)
    return summary
