"""`presswatch status`: what the store holds and how the last runs went."""

from __future__ import annotations

from typing import Any

from crawler.config import Config
from crawler.normalize import today_tashkent
from crawler.store import Store


def collect_status(store: Store, config: Config) -> dict[str, Any]:
    db = store.db
    per_lang = {lang: count for lang, count in db.execute("select lang, count(*) from items group by lang")}
    today = today_tashkent().isoformat()
    runs = store.last_runs(1)
    last_ok = db.execute(
        "select finished from crawl_runs where outcome in ('ok', 'partial') order by id desc limit 1"
    ).fetchone()
    last_error = db.execute("select at, url, reason from crawl_errors order by id desc limit 1").fetchone()
    return {
        "store": str(store.path),
        "releases": db.execute("select count(distinct id) from items").fetchone()[0],
        "language_versions": sum(per_lang.values()),
        "per_language": per_lang,
        "stored_today": db.execute(
            "select count(*) from items where substr(first_seen, 1, 10) = ? or published = ?", [today, today]
        ).fetchone()[0],
        "pending_translations": len(store.pending()),
        "last_run": runs[0] if runs else None,
        "last_success": last_ok[0] if last_ok else None,
        "last_error": {"at": last_error[0], "url": last_error[1], "reason": last_error[2]} if last_error else None,
        "healthy": True,
    }


def print_status(report: dict[str, Any]) -> None:
    print(f"store: {report['store']}")
    langs = ", ".join(f"{lang} {count}" for lang, count in sorted(report["per_language"].items()))
    print(f"releases: {report['releases']} ({report['language_versions']} language versions: {langs or 'none'})")
    print(f"stored today: {report['stored_today']}; missing translations waiting: {report['pending_translations']}")
    run = report["last_run"]
    if run:
        print(f"last run: #{run['id']} {run['kind']} {run['outcome']} at {run['finished'] or run['started']}: "
              f"{run['new']} new, {run['changed']} changed, {run['errors']} errors")
    else:
        print("last run: none yet")
    print(f"last success: {report['last_success'] or 'never'}")
    if report["last_error"]:
        error = report["last_error"]
        print(f"last error: {error['at']} {error['url']}: {error['reason']}")
