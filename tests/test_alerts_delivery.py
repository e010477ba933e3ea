"""Delivery through real receivers: retries with backoff, failure and the ops route, digests, several
URLs per route, one pass at a time, and the commands around it."""

from __future__ import annotations

import datetime as dt
import json

from test_alerts_support import (
    NOW,
    FakeTagger,
    Webhook,
    arm,
    hooks_for,
    item,
    later,
    make_config,
    open_store,
    outbox,
    part,
    replace_alerts,
    route,
    save,
)

from crawler.alerts import alerts_summary, deliver_pending, notify_ops
from crawler.alerts.deliver import backoff_seconds, delivery_lock
from crawler.clock import parse_iso
from crawler.sources.presidentuz import TASHKENT


def queue(store, config, *release_ids, topic="water", clock=None):
    tagger = FakeTagger()
    clock = clock or (lambda: NOW)
    hooks = hooks_for(config, tagger, clock=clock)
    published = clock().astimezone(TASHKENT).date().isoformat()  # fresh news on the clock's day
    for release_id in release_ids:
        tagger.set(release_id, "en", (topic, topic, f"… {topic} {release_id} …"))
        save(store, hooks, item(release_id, "en", f"Release {release_id} on {topic}", published=published))


def armed(tmp_path):
    store = open_store(tmp_path)
    arm(store)
    return store


def test_webhook_and_mail_each_get_every_alert_exactly_once(tmp_path, webhook, mailbox):
    config = make_config(route("newsroom", webhook.url(), mailbox.url()))
    store = armed(tmp_path)
    queue(store, config, 1, 2, 3)
    report = deliver_pending(store, config, now=later(NOW, seconds=1))
    assert (report.messages_sent, report.alerts_sent, report.retrying) == (3, 3, 0)
    for _ in range(3):
        deliver_pending(store, config, now=later(NOW, hours=1))
    expected = [f"presswatch:president.uz:{i}:water:newsroom" for i in (1, 2, 3)]
    assert webhook.keys() == expected
    assert [m["X-Idempotency-Key"] for m in mailbox.messages] == expected
    assert [m["Subject"] for m in mailbox.messages] == [f"Water: Release {i} on water" for i in (1, 2, 3)]
    assert "… water 2 …" in part(mailbox.messages[1], "html")
    assert {r["status"] for r in outbox(store)} == {"sent"}


def test_a_channel_down_for_several_passes_gets_each_alert_once_when_back(tmp_path, webhook):
    config = make_config(route("newsroom", webhook.url()), retry_base_seconds=60, retry_max_seconds=200,
                         max_attempts=10)
    store = armed(tmp_path)
    queue(store, config, 1, 2, 3)
    webhook.status = 503
    moment = later(NOW, seconds=1)
    waits = []
    for attempt in range(1, 5):
        report = deliver_pending(store, config, now=moment)
        assert (report.messages_sent, report.retrying) == (0, 3)
        rows = outbox(store)
        assert {r["attempts"] for r in rows} == {attempt}
        assert all("503" in r["last_error"] or "Unavailable" in r["last_error"] for r in rows)
        due = parse_iso(rows[0]["due_at"])
        waits.append((due - moment).total_seconds())
        # Before the retry is due, a pass leaves the rows alone.
        assert deliver_pending(store, config, now=due - dt.timedelta(seconds=1)).retrying == 0
        moment = due
    assert waits == [60, 120, 200, 200]  # doubling, capped at retry_max_seconds
    assert webhook.received == []
    webhook.status = 200
    report = deliver_pending(store, config, now=moment)
    assert (report.messages_sent, report.alerts_sent) == (3, 3)
    deliver_pending(store, config, now=later(moment, hours=5))
    assert sorted(webhook.keys()) == [f"presswatch:president.uz:{i}:water:newsroom" for i in (1, 2, 3)]


def test_after_max_attempts_an_alert_fails_and_the_ops_route_hears_once(tmp_path, webhook, capsys):
    from crawler.cli import main

    config_file = tmp_path / "pw.toml"
    config_file.write_text(
        "[alerts]\nmax_attempts = 3\nretry_base_seconds = 0\n"
        f"[[alerts.routes]]\nname = \"newsroom\"\nurls = [\"{webhook.url('/news')}\"]\n"
        f"[[alerts.routes]]\nname = \"ops\"\nops = true\nurls = [\"{webhook.url('/ops')}\"]\n",
        encoding="utf-8",
    )
    from crawler.config import load_config

    config = load_config(config_file)
    store = armed(tmp_path)
    queue(store, config, 7)
    down = Webhook()  # the newsroom URL points at a receiver that is not running
    config = replace_alerts(config, routes=(route("newsroom", down.url("/news")), config.alerts.routes[1]))
    down.server.server_close()
    reports = [deliver_pending(store, config, now=later(NOW, seconds=n)) for n in range(1, 6)]
    assert [r.failed for r in reports] == [0, 0, 1, 0, 0]
    (alert,) = outbox(store, "kind = 'release'")
    assert (alert["status"], alert["attempts"]) == ("failed", 3)
    ops = webhook.at("/ops")
    assert len(ops) == 1
    assert ops[0]["headers"]["x-idempotency-key"] == "presswatch:ops:failed:presswatch:president.uz:7:water:newsroom:ops"
    assert "presswatch alerts retry --failed" in ops[0]["json"]["message"]
    assert "release 7 / water" in ops[0]["json"]["message"]

    # The route is back (the config file's URL works): retry --failed sends it, once.
    args = ["--config", str(config_file), "--store", str(tmp_path / "s.db")]
    store.close()
    assert main(["alerts", "list", "--status", "failed", *args]) == 0
    assert "#1" in capsys.readouterr().out
    assert main(["alerts", "retry", "--failed", *args]) == 0
    assert main(["alerts", "deliver", *args]) == 0
    assert main(["alerts", "deliver", *args]) == 0
    assert webhook.keys("/news") == ["presswatch:president.uz:7:water:newsroom"]
    assert len(webhook.at("/ops")) == 1


def test_a_route_with_two_urls_resends_only_to_the_one_that_failed(tmp_path, webhook):
    config = make_config(route("newsroom", webhook.url("/up"), webhook.url("/flaky")))
    store = armed(tmp_path)
    queue(store, config, 1)
    flaky = {"down": True}
    original = webhook.server.RequestHandlerClass.do_POST

    def do_post(handler):
        if handler.path == "/flaky" and flaky["down"]:
            handler.rfile.read(int(handler.headers["Content-Length"]))
            handler.send_response(500)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        original(handler)

    webhook.server.RequestHandlerClass.do_POST = do_post
    moment = later(NOW, seconds=1)
    for _ in range(3):
        report = deliver_pending(store, config, now=moment)
        assert report.retrying == 1
        moment = parse_iso(outbox(store)[0]["due_at"])
    flaky["down"] = False
    assert deliver_pending(store, config, now=moment).messages_sent == 1
    assert webhook.keys("/up") == ["presswatch:president.uz:1:water:newsroom"]
    assert webhook.keys("/flaky") == ["presswatch:president.uz:1:water:newsroom"]


def test_a_new_topic_due_during_a_partial_delivery_is_not_merged_into_a_resend(tmp_path, webhook):
    """URL /up got the water alert, /flaky did not; then the release gains a topic. The water
    alert goes to /flaky only, the new one to both: no URL gets an alert twice."""
    config = make_config(route("newsroom", webhook.url("/up"), webhook.url("/flaky")), retry_base_seconds=0)
    store = armed(tmp_path)
    queue(store, config, 1, topic="water")
    flaky = {"down": True}
    original = webhook.server.RequestHandlerClass.do_POST

    def do_post(handler):
        if handler.path == "/flaky" and flaky["down"]:
            handler.rfile.read(int(handler.headers["Content-Length"]))
            handler.send_response(500)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        original(handler)

    webhook.server.RequestHandlerClass.do_POST = do_post
    moment = later(NOW, seconds=1)
    assert deliver_pending(store, config, now=moment).retrying == 1
    queue(store, config, 1, topic="border")
    flaky["down"] = False
    deliver_pending(store, config, now=later(moment, seconds=1))
    deliver_pending(store, config, now=later(moment, hours=1))
    assert sorted(webhook.keys("/up")) == ["presswatch:president.uz:1:border:newsroom", "presswatch:president.uz:1:water:newsroom"]
    assert sorted(webhook.keys("/flaky")) == ["presswatch:president.uz:1:border:newsroom", "presswatch:president.uz:1:water:newsroom"]
    assert {r["status"] for r in outbox(store)} == {"sent"}


def test_an_hourly_digest_holds_several_releases_and_waits_for_the_hour(tmp_path, webhook):
    config = make_config(route("hourly", webhook.url("/digest"), mode="hourly"),
                         route("now", webhook.url("/now")))
    store = armed(tmp_path)
    start = dt.datetime(2030, 5, 10, 4, 5, tzinfo=dt.timezone.utc)  # 09:05 Tashkent
    queue(store, config, 1, 2, clock=lambda: start)
    queue(store, config, 3, clock=lambda: later(start, minutes=40))
    queue(store, config, 4, clock=lambda: later(start, minutes=70))  # the next hour
    report = deliver_pending(store, config, now=later(start, minutes=50))
    assert report.messages_sent == 3  # the immediate route got three alerts, the digest nothing yet
    # waiting: 4 in the digest, and release 4's immediate alert, due at 10:15
    assert webhook.at("/digest") == [] and report.waiting == 5
    deliver_pending(store, config, now=dt.datetime(2030, 5, 10, 5, 0, 1, tzinfo=dt.timezone.utc))
    (digest,) = webhook.at("/digest")
    message = digest["json"]["message"]
    assert all(f"Release {i} on water" in message for i in (1, 2, 3)) and "Release 4" not in message
    assert "3 releases until 2030-05-10 10:00 Tashkent" in digest["json"]["title"]
    assert digest["headers"]["x-idempotency-key"].startswith("presswatch:digest:hourly:20300510T0500")
    deliver_pending(store, config, now=dt.datetime(2030, 5, 10, 6, 0, 1, tzinfo=dt.timezone.utc))
    assert len(webhook.at("/digest")) == 2
    assert "Release 4 on water" in webhook.at("/digest")[1]["json"]["message"]
    deliver_pending(store, config, now=dt.datetime(2030, 5, 11, 6, 0, 1, tzinfo=dt.timezone.utc))
    assert len(webhook.at("/digest")) == 2 and len(webhook.at("/now")) == 4


def test_a_daily_digest_by_mail(tmp_path, mailbox):
    config = make_config(route("daily", mailbox.url(), mode="daily"), digest_hour=8)
    store = armed(tmp_path)
    start = dt.datetime(2030, 5, 10, 4, 5, tzinfo=dt.timezone.utc)  # 09:05 Tashkent: after today's 08:00
    queue(store, config, 11, 12, 13, clock=lambda: start)
    assert deliver_pending(store, config, now=later(start, hours=12)).messages_sent == 0
    report = deliver_pending(store, config, now=dt.datetime(2030, 5, 11, 3, 0, tzinfo=dt.timezone.utc))
    assert (report.messages_sent, report.alerts_sent) == (1, 3)
    (message,) = mailbox.messages
    assert message["Subject"].startswith("presswatch daily digest (daily): 3 releases until 2030-05-11 08:00")
    html_part = part(message, "html")
    assert all(f"Release {i} on water" in html_part for i in (11, 12, 13))


def test_one_delivery_pass_at_a_time(tmp_path, webhook):
    config = make_config(route("newsroom", webhook.url()))
    store = armed(tmp_path)
    queue(store, config, 1)
    with delivery_lock(store) as held:
        assert held
        report = deliver_pending(store, config, now=later(NOW, seconds=1))
        assert report.locked and report.messages_sent == 0
        assert "another delivery pass" in report.line()
    assert deliver_pending(store, config, now=later(NOW, seconds=1)).messages_sent == 1


def test_alerts_of_a_removed_route_fail_visibly(tmp_path, webhook):
    config = make_config(route("old", webhook.url("/old")), route("ops", webhook.url("/ops"), ops=True))
    store = armed(tmp_path)
    queue(store, config, 1)
    config = replace_alerts(config, routes=(config.alerts.routes[1],))
    report = deliver_pending(store, config, now=later(NOW, seconds=1))
    assert report.failed == 1
    assert "not in the configuration" in outbox(store, "kind = 'release'")[0]["last_error"]
    assert len(webhook.at("/ops")) == 1 and webhook.at("/old") == []


def test_ops_messages_are_delivered_and_retried_like_alerts(tmp_path, webhook):
    config = make_config(route("ops", webhook.url("/ops"), ops=True))
    store = open_store(tmp_path)
    notify_ops(store, config, "source silent", "no new release for 72 hours", "silent:start:1", now=NOW)
    webhook.status = 503
    assert deliver_pending(store, config, now=later(NOW, seconds=1)).retrying == 1
    webhook.status = 200
    assert deliver_pending(store, config, now=later(NOW, hours=1)).messages_sent == 1
    notify_ops(store, config, "source silent", "no new release for 72 hours", "silent:start:1", now=NOW)
    deliver_pending(store, config, now=later(NOW, hours=2))
    assert webhook.keys("/ops") == ["presswatch:ops:silent:start:1:ops"]


def test_backoff_doubles_and_is_capped():
    assert [backoff_seconds(n, 60, 3600) for n in range(1, 9)] == [60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_summary_for_status_shows_counts_and_redacted_routes(tmp_path):
    config = make_config(route("tg", "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123"))
    store = armed(tmp_path)
    queue(store, config, 1)
    summary = alerts_summary(store, config)
    assert summary["outbox"] == {"pending": 1}
    assert summary["routes"] == [{"name": "tg", "mode": "immediate", "ops": False, "topics": "all",
                                  "urls": ["tgram://***"]}]
    assert "AAHdq" not in json.dumps(summary)


def test_alerts_test_sends_a_sample_and_prints_the_outcome(tmp_path, webhook, capsys):
    from crawler.cli import main

    config_file = tmp_path / "pw.toml"
    config_file.write_text(
        f"[[alerts.routes]]\nname = \"newsroom\"\nurls = [\"{webhook.url('/a')}\", \"json://127.0.0.1:9/closed\"]\n",
        encoding="utf-8")
    assert main(["alerts", "test", "newsroom", "--config", str(config_file)]) == 1
    out = capsys.readouterr().out
    assert "ok      json://127.0.0.1" in out and "FAILED  json://127.0.0.1" in out
    assert "1 of 2 URLs accepted" in out
    (sample,) = webhook.at("/a")
    assert "presswatch test: a <b>headline</b> with *stars*" in sample["json"]["message"]
    assert main(["alerts", "test", "nope", "--config", str(config_file)]) == 2


def test_the_real_tagger_and_the_hook_together(tmp_path, webhook):
    from test_alerts_support import make_config as base

    from crawler.alerts import alerts_hook
    from crawler.config import Config
    from crawler.tagging import Tagger

    config = base(route("newsroom", webhook.url()))
    tag = Tagger.from_config(Config(alerts=config.alerts))

    store = armed(tmp_path)
    hooks = [tag, alerts_hook(config, clock=lambda: NOW)]
    save(store, hooks, item(100, "ru", "Переговоры с Казахстаном",
                            paragraphs=["Президенты Узбекистана и Казахстана."]))
    save(store, hooks, item(100, "en", "Talks with Kazakhstan",
                            paragraphs=["The presidents of Uzbekistan and Kazakhstan."]))
    topics = {r["topic"] for r in outbox(store)}
    assert topics == {"kazakhstan"}  # the shipped topics tag both versions; one row per topic and route
    deliver_pending(store, config, now=later(NOW, seconds=1))
    assert len(webhook.received) == len(topics)
    assert all(r["status"] == "sent" for r in outbox(store))


def test_crawls_of_the_mirror_first_silent_then_one_message_per_new_release(tmp_path, webhook):
    """The real pipeline, tagger and hook against the site mirror on 127.0.0.1."""
    from crawler.app import build_crawler
    from crawler.config import load_config
    from crawler.fetch import Fetcher
    from devsites.mirror import Mirror, sample_releases

    today = dt.datetime.now(TASHKENT).date()
    releases = sample_releases(12, first_date=today - dt.timedelta(days=3))
    with Mirror(releases[:4]) as mirror:
        assert mirror.base_url.startswith("http://127.0.0.1:")
        config_file = tmp_path / "pw.toml"
        config_file.write_text(
            f'[source]\nbase_url = "{mirror.base_url}"\nlanguages = ["en", "ru"]\nrequest_delay = 0\n'
            'obey_robots = false\nmax_attempts = 1\n'
            f'[[alerts.routes]]\nname = "newsroom"\nurls = ["{webhook.url()}"]\n', encoding="utf-8")
        config = load_config(config_file)
        store = open_store(tmp_path)
        with Fetcher(config.source) as fetcher:
            crawler = build_crawler(config, store, fetcher)
            first = crawler.crawl()
            assert first.outcome == "ok" and first.new == 8
            assert {r["status"] for r in outbox(store)} <= {"silenced"}
            assert deliver_pending(store, config).messages_sent == 0
            for release in releases[4:]:
                mirror.publish(release)
            second = crawler.crawl()
            assert second.new == 16
    tagged = {row[0] for row in store.db.execute(
        "select distinct id from matches where id in (%s)" % ",".join(str(r.id) for r in releases[4:]))}
    assert tagged, "the sample releases hold topics"
    report = deliver_pending(store, config)
    assert report.messages_sent == len(tagged)
    received_ids = sorted(int(key.split(":")[2]) for key in webhook.keys())
    assert received_ids == sorted(tagged)
    for request in webhook.received:
        message = request["json"]["message"]
        assert "/en/lists/view/" in message and "/ru/lists/view/" in message
    assert deliver_pending(store, config).messages_sent == 0


def test_a_hanging_endpoint_costs_one_timeout_per_pass(tmp_path, webhook):
    config = make_config(route("newsroom", webhook.url() + "?rto=0.3&cto=0.3"))
    store = armed(tmp_path)
    queue(store, config, 1, 2, 3, 4, 5)
    webhook.status, webhook.delay_before = 503, 1.0
    report = deliver_pending(store, config, now=later(NOW, seconds=1))
    # One POST, one timeout: the four other messages were not sent to the URL that just failed.
    assert report.retrying == 5 and webhook.posts == 1, webhook.posts
    rows = outbox(store)
    assert {r["attempts"] for r in rows} == {1}
    assert sum("not tried, failed earlier in this pass" in r["last_error"] for r in rows) == 4


def test_a_stopping_daemon_ends_the_pass_between_two_messages(tmp_path, webhook):
    config = make_config(route("newsroom", webhook.url()))
    store = armed(tmp_path)
    queue(store, config, 1, 2, 3)
    report = deliver_pending(store, config, now=later(NOW, seconds=1), should_stop=lambda: len(webhook.received) >= 1)
    assert report.messages_sent == 1
    assert [r["status"] for r in outbox(store)] == ["sent", "pending", "pending"]
    assert deliver_pending(store, config, now=later(NOW, seconds=1)).messages_sent == 2
