"""`presswatch alerts ...`: list the outbox, retry, send a test message, run one delivery pass.

No command prints an Apprise URL: a route's URLs are shown as scheme and host, with hosts that are
tokens (Telegram, Slack, Discord) masked, and every error message goes through redact().
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from crawler import app
from crawler.alerts.deliver import deliver_pending, describe_url, send_test
from crawler.alerts.outbox import FAILED, PENDING, SENT, SILENCED, STATUSES, list_rows, requeue
from crawler.cli.options import (
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_OK,
    add_format,
    chosen_source,
    common_options,
    load,
    positive_int,
)
from crawler.model import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    common = common_options()
    alerts = subparsers.add_parser(
        "alerts", parents=[common], help="the alert outbox: list, retry, test a route, deliver",
        description="Alerts are queued in the store's outbox when a release is stored and tagged, and sent "
        "by a delivery pass (the daemon runs one after each crawl). See docs/ALERTS.md.")
    sub = alerts.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)

    listing = sub.add_parser("list", parents=[common_options(source=True)], help="show queued, sent, failed and silenced alerts")
    listing.add_argument("--status", choices=STATUSES, help="only alerts with this status")
    how_many = listing.add_mutually_exclusive_group()
    how_many.add_argument("--limit", type=positive_int, default=50, metavar="N", help="the newest N (default 50)")
    how_many.add_argument("--all", action="store_true", help="every alert")
    add_format(listing, ("text", "json"), "text")
    listing.set_defaults(func=cmd_list)

    retry = sub.add_parser("retry", parents=[common], help="queue failed (or silenced) alerts again",
                           description="Make alerts due now with a fresh count of attempts. A silenced alert "
                           "given by id is sent too. URLs of a route that already accepted an alert do not "
                           "get it again.")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", type=int, default=[], metavar="ID", help="outbox ids (see alerts list)")
    which.add_argument("--failed", action="store_true", help="every failed alert")
    retry.set_defaults(func=cmd_retry)

    test = sub.add_parser("test", parents=[common], help="send a sample message through a route",
                          description="Send a sample alert (an ops message for an ops route) to every URL of "
                          "ROUTE now, bypassing the outbox, and print what each URL answered.")
    test.add_argument("route", metavar="ROUTE", help="a route name from [[alerts.routes]]")
    test.set_defaults(func=cmd_test)

    deliver = sub.add_parser("deliver", parents=[common], help="one delivery pass: send what is due",
                             description="Send every due alert once, retry later what fails. Exit code 1 "
                             "when an alert was marked failed in this pass, 3 when another pass is running.")
    deliver.set_defaults(func=cmd_deliver)

    routes = sub.add_parser("routes", parents=[common], help="show the configured routes (URLs redacted)")
    routes.set_defaults(func=cmd_routes)


def cmd_list(args: argparse.Namespace) -> int:
    config = load(args, secrets=False)
    with app.open_store(config, must_exist=True) as store:
        rows = list_rows(store, args.status, None if args.all else args.limit,
                         app.source(config).headline_preference, chosen_source(args, store, config))
    if args.format == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not rows:
        print("no alerts" + (f" with status {args.status}" if args.status else ""))
        return EXIT_OK
    for row in rows:
        print(_list_line(row))
    return EXIT_OK


def _list_line(row: dict[str, Any]) -> str:
    if row["kind"] == "ops":
        what = f"ops: {row['subject']}"
    else:
        title = (row.get("title") or "")[:70]
        what = f"{row['source']} {row['release_id']} {row['topic']}: {title}"
    status = row["status"] + (f" ({row['reason']})" if row["status"] == SILENCED and row.get("reason") else "")
    when = {SENT: f"sent {row['sent_at']}", PENDING: f"due {row['due_at']}"}.get(row["status"], row["created_at"])
    line = f"#{row['id']:<5} {status:<22} {row['route']:<14} {when:<30} {what}"
    if row["attempts"]:
        line += f"  [{row['attempts']} attempts]"
    if row.get("last_error") and row["status"] in (PENDING, FAILED):
        line += f"\n        last error: {row['last_error']}"
    return line


def cmd_retry(args: argparse.Namespace) -> int:
    config = load(args, secrets=False)
    with app.open_store(config, must_exist=True, write=True) as store:
        retried, refused = requeue(store, failed=args.failed, ids=args.ids)
    for alert_id, why in refused:
        print(f"#{alert_id}: {why}")
    print(f"{len(retried)} alerts queued again; `presswatch alerts deliver` (or the daemon) sends them")
    return EXIT_OK if retried or not refused else EXIT_FAILED


def cmd_test(args: argparse.Namespace) -> int:
    config = load(args, routes=True)
    names = [r.name for r in config.alerts.routes]
    if args.route not in names:
        known = ", ".join(names) or "none configured"
        raise UsageError(f"no route named {args.route!r} (routes: {known})")

    def show(target: str, error: str | None) -> None:
        print(f"ok      {target}" if error is None else f"FAILED  {error}")

    results = send_test(config, args.route, on_result=show)
    failed = sum(1 for _, error in results if error)
    print(f"route {args.route}: {len(results) - failed} of {len(results)} URLs accepted the test message")
    return EXIT_FAILED if failed else EXIT_OK


def cmd_deliver(args: argparse.Namespace) -> int:
    config = load(args, routes=True)
    with app.open_store(config, must_exist=True, write=True) as store:
        report = deliver_pending(store, config)
    print(report.line())
    if report.locked:
        return EXIT_LOCKED
    return EXIT_FAILED if report.failed else EXIT_OK


def cmd_routes(args: argparse.Namespace) -> int:
    config = load(args, secrets=False, routes=True)
    if not config.alerts.routes:
        print("no routes configured ([[alerts.routes]] in the config file)")
    for route in config.alerts.routes:
        topics = "health conditions and failed deliveries" if route.ops else (", ".join(route.topics) or "all topics")
        print(f"{route.name}: {route.mode}, {topics}")
        for url in route.urls:
            print(f"    {describe_url(url)}")
    return EXIT_OK
