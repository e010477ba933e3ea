"""The alert outbox: one alert per (release, topic, route), no flood, and messages that arrive as text."""

from __future__ import annotations

import datetime as dt
import json
from unittest import mock

import pytest
from test_alerts_support import (
    NOW,
    TODAY,
    FakeTagger,
    arm,
    hooks_for,
    item,
    later,
    make_config,
    open_store,
    outbox,
    part,
    route,
    save,
)

from crawler.alerts import deliver_pending, notify_ops, render
from crawler.alerts.deliver import describe_url, with_idempotency_key
from crawler.alerts.outbox import horizon_date, period_end
from crawler.sources.presidentuz import TASHKENT

NASTY = "Visit of <b>Tokayev</b> *Kazakhstan* _border_ & water"


def armed_store(tmp_path):
    store = open_store(tmp_path)
    arm(store)
    return store


# --- one alert per (release, topic, route) ----------------------------------------------------------
def test_four_language_versions_of_one_release_make_one_alert(tmp_path, webhook):
    config = make_config(route("newsroom", webhook.url()))
    store = armed_store(tmp_path)
    tagger = FakeTagger()
    hooks = hooks_for(config, tagger)
    titles = {"uz": "Қозоғистон билан", "oz": "Qozog'iston bilan", "ru": "С Казахстаном",
              "en": "With Kazakhstan"}
    for lang, title in titles.items():
        tagger.set(5782, lang, ("kazakhstan", title.split()[-1], f"… {title} …"))
        save(store, hooks, item(5782, lang, title))
    rows = outbox(store)
    assert [(r["release_id"], r["topic"], r["route"], r["status"], r["trigger_lang"]) for r in rows] == [
        (5782, "kazakhstan", "newsroom", "pending", "uz")]

    report = deliver_pending(store, config)
    assert (report.messages_sent, report.alerts_sent) == (1, 1)
    assert len(webhook.received) == 1
    message = webhook.received[0]["json"]["message"]
    for lang in titles:
        assert f"https://president.uz/{lang}/lists/view/5782" in message
    assert message.splitlines()[0] == "With Kazakhstan"  # the English headline leads
    assert deliver_pending(store, config).messages_sent == 0
    assert len(webhook.received) == 1


def test_languages_arriving_after_the_alert_do_not_alert_again_but_are_linked_when_known(tmp_path, webhook):
    config = make_config(route("newsroom", webhook.url()))
    store = armed_store(tmp_path)
    tagger = FakeTagger()
    hooks = hooks_for(config, tagger)
    tagger.set(1, "ru", ("water", "вода", "… вода …"))
    save(store, hooks, item(1, "ru", "Вода"))
    deliver_pending(store, config)
    tagger.set(1, "en", ("water", "water", "… water …"))
    save(store, hooks, item(1, "en", "Water"))  # a day later, say: same release, same topic
    assert len(outbox(store)) == 1
    deliver_pending(store, config)
    assert len(webhook.received) == 1


def test_links_read_at_send_time(tmp_path, webhook):
    config = make_config(route("newsroom", webhook.url()))
    store = armed_store(tmp_path)
    tagger = FakeTagger()
    hooks = hooks_for(config, tagger)
    tagger.set(2, "uz", ("water", "сув", "сув"))
    save(store, hooks, item(2, "uz", "Сув"))
    save(store, hooks, item(2, "en", "Water"))  # stored before the delivery pass, no match of its own
    deliver_pending(store, config)
    message = webhook.received[0]["json"]["message"]
    assert "/uz/lists/view/2" in message and "/en/lists/view/2" in message


def test_an_edit_alerts_only_for_a_topic_the_release_did_not_have(tmp_path, webhook):
    config = make_config(route("newsroom", webhook.url()))
    store = armed_store(tmp_path)
    tagger = FakeTagger()
    hooks = hooks_for(config, tagger)
    tagger.set(3, "en", ("kazakhstan", "Kazakhstan", "Kazakhstan"))
    save(store, hooks, item(3, "en", "Kazakhstan talks"))
    assert save(store, hooks, item(3, "en", "Kazakhstan talks", paragraphs=["Edited."])) == "changed"
    assert len(outbox(store)) == 1
    tagger.set(3, "en", ("kazakhstan", "Kazakhstan", "Kazakhstan"), ("border", "border", "the border"))
    save(store, hooks, item(3, "en", "Kazakhstan talks", paragraphs=["Edited: the border too."]))
    assert [(r["topic"], r["status"]) for r in outbox(store)] == [("kazakhstan", "pending"), ("border", "pending")]
    # Both due in the same pass for the same route: one message naming both topics.
    deliver_pending(store, config)
    assert len(webhook.received) == 1
    assert webhook.keys() == ["presswatch:president.uz:3:border+kazakhstan:newsroom"]


def test_routes_receive_their_topics_and_ops_routes_none(tmp_path):
    config = make_config(
        route("all", "json://127.0.0.1:9/a"),
        route("water-desk", "json://127.0.0.1:9/b", topics=("water",)),
        route("ops", "json://127.0.0.1:9/c", ops=True),
    )
    store = armed_store(tmp_path)
    tagger = FakeTagger()
    hooks = hooks_for(config, tagger)
    tagger.set(4, "en", ("kazakhstan", "Kazakhstan", "x"), ("water", "water", "y"))
    save(store, hooks, item(4, "en", "Kazakhstan and water"))
    assert sorted((r["route"], r["topic"]) for r in outbox(store)) == [
        ("all", "kazakhstan"), ("all", "water"), ("water-desk", "water")]
    assert {r["key"] for r in outbox(store)} >= {"presswatch:president.uz:4:water:water-desk"}


def test_unchanged_versions_and_untagged_versions_queue_nothing(tmp_path):
    config = make_config(route("newsroom", "json://127.0.0.1:9/a"))
    store = armed_store(tmp_path)
    tagger = FakeTagger()
    hooks = hooks_for(config, tagger)
    save(store, hooks, item(5, "en", "Nothing of interest"))
    tagger.set(5, "en", ("water", "water", "water"))
    assert save(store, hooks, item(5, "en", "Nothing of interest")) == "unchanged"
    assert outbox(store) == []


# --- no flood --------------------------------------------------------------------------------------
def test_the_first_crawl_of_an_empty_store_sends_nothing(tmp_path, webhook):
    config = make_config(route("newsroom", webhook.url()))
    store = open_store(tmp_path)
    tagger = FakeTagger()
    hooks = hooks_for(config, tagger)
    first = store.start_run("crawl", "president.uz")
    for release_id in range(10, 22):
        tagger.set(release_id, "en", ("kazakhstan", "Kazakhstan", "Kazakhstan"))
        save(store, hooks, item(release_id, "en", f"Kazakhstan {release_id}"))
    store.finish_run(first, outcome="interrupted")
    # The first crawl was interrupted: the one that completes the filling is still a first crawl.
    second = store.start_run("crawl", "president.uz")
    tagger.set(22, "en", ("kazakhstan", "Kazakhstan", "Kazakhstan"))
    save(store, hooks, item(22, "en", "Kazakhstan 22"))
    store.finish_run(second, outcome="ok")
    assert {(r["status"], r["reason"]) for r in outbox(store)} == {("silenced", "first_crawl")}
    assert deliver_pending(store, config).messages_sent == 0
    assert webhook.received == []

    third = store.start_run("crawl", "president.uz")
    tagger.set(23, "en", ("kazakhstan", "Kazakhstan", "Kazakhstan"))
    save(store, hooks, item(23, "en", "Kazakhstan 23"))
    store.finish_run(third, outcome="ok")
    deliver_pending(store, config)
    assert webhook.keys() == ["presswatch:president.uz:23:kazakhstan:newsroom"]


def test_a_backfill_never_alerts(tmp_path):
    config = make_config(route("newsroom", "json://127.0.0.1:9/a"))
    store = armed_store(tmp_path)
    tagger = FakeTagger()
    hooks = hooks_for(config, tagger)
    run = store.start_run("backfill", "president.uz")
    tagger.set(30, "en", ("water", "water", "water"))
    save(store, hooks, item(30, "en", "Water", published=TODAY))
    store.finish_run(run, outcome="ok")
    assert [(r["status"], r["reason"]) for r in outbox(store)] == [("silenced", "backfill")]


def test_releases_published_before_the_horizon_are_silenced(tmp_path):
    config = make_config(route("newsroom", "json://127.0.0.1:9/a"), horizon_days=2.0)
    store = armed_store(tmp_path)
    tagger = FakeTagger()
    hooks = hooks_for(config, tagger)
    today = dt.datetime.now(TASHKENT).date()
    cases = {40: today - dt.timedelta(days=10), 41: today - dt.timedelta(days=2), 42: today, 43: None}
    for release_id, published in cases.items():
        tagger.set(release_id, "en", ("water", "water", "water"))
        save(store, hooks, item(release_id, "en", "Water", published=published and published.isoformat()))
    statuses = {r["release_id"]: (r["status"], r["reason"]) for r in outbox(store)}
    assert statuses == {40: ("silenced", "horizon"), 41: ("pending", None), 42: ("pending", None),
                        43: ("pending", None)}


def test_horizon_is_a_tashkent_date():
    # 20:00 UTC on 9 May is 01:00 on 10 May in Tashkent.
    moment = dt.datetime(2024, 5, 9, 20, 0, tzinfo=dt.timezone.utc)
    assert horizon_date(moment, 2.0, TASHKENT) == "2024-05-08"


def test_silenced_alerts_are_listed_and_can_be_sent_on_request(tmp_path, webhook, capsys):
    from crawler.cli import main

    config_file = tmp_path / "pw.toml"
    config_file.write_text(f'[[alerts.routes]]\nname = "newsroom"\nurls = ["{webhook.url()}"]\n', encoding="utf-8")
    from crawler.config import load_config

    config = load_config(config_file)
    store = open_store(tmp_path)
    tagger = FakeTagger()
    run = store.start_run("backfill", "president.uz")
    tagger.set(50, "en", ("water", "water", "water"))
    save(store, hooks_for(config, tagger), item(50, "en", "Water <b>50</b>"))
    store.finish_run(run, outcome="ok")
    store.close()
    args = ["--config", str(config_file), "--store", str(tmp_path / "s.db")]
    assert main(["alerts", "list", "--status", "silenced", *args]) == 0
    out = capsys.readouterr().out
    assert "silenced (backfill)" in out and "50 water: Water <b>50</b>" in out
    assert main(["alerts", "list", "--json", *args]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["status"]) for r in listed] == [(1, "silenced")]
    assert main(["alerts", "retry", "1", *args]) == 0
    assert main(["alerts", "deliver", *args]) == 0
    assert webhook.keys() == ["presswatch:president.uz:50:water:newsroom"]
    capsys.readouterr()
    assert main(["alerts", "retry", "1", *args]) == 1
    assert "already sent" in capsys.readouterr().out


# --- digests -----------------------------------------------------------------------------------------
def test_digest_periods_close_on_the_hour_and_at_the_digest_hour():
    moment = dt.datetime(2024, 5, 10, 4, 17, tzinfo=dt.timezone.utc)  # 09:17 in Tashkent
    assert period_end("hourly", moment, 8, TASHKENT) == dt.datetime(2024, 5, 10, 5, 0, tzinfo=dt.timezone.utc)
    assert period_end("daily", moment, 8, TASHKENT) == dt.datetime(2024, 5, 11, 3, 0, tzinfo=dt.timezone.utc)
    assert period_end("daily", moment, 10, TASHKENT) == dt.datetime(2024, 5, 10, 5, 0, tzinfo=dt.timezone.utc)
    assert period_end("immediate", moment, 8, TASHKENT) is None


# --- ops --------------------------------------------------------------------------------------------
def test_notify_ops_is_deduplicated_by_key_and_goes_to_ops_routes_only(tmp_path, webhook):
    config = make_config(route("newsroom", webhook.url("/news")), route("ops", webhook.url("/ops"), ops=True))
    store = open_store(tmp_path)
    assert notify_ops(store, config, "layout drift", "3 runs <b>without</b> items", "drift:start:7") == 1
    assert notify_ops(store, config, "layout drift", "3 runs without items", "drift:start:7") == 0
    deliver_pending(store, config)
    assert webhook.keys("/news") == []
    assert webhook.keys("/ops") == ["presswatch:ops:drift:start:7:ops"]
    assert "3 runs <b>without</b> items" in webhook.at("/ops")[0]["json"]["message"]
    assert notify_ops(store, make_config(route("newsroom", webhook.url())), "x", "y", "k") == 0


# --- escaping and formats ------------------------------------------------------------------------------
def _nasty_release(tmp_path, config):
    store = armed_store(tmp_path)
    tagger = FakeTagger()
    tagger.set(60, "en", ("kazakhstan", "Kazakhstan", "a snippet with <i>tags</i>, *stars* & _underscores_"))
    save(store, hooks_for(config, tagger), item(60, "en", NASTY))
    return store


def test_webhook_gets_plain_text_and_the_idempotency_key(tmp_path, webhook):
    config = make_config(route("newsroom", webhook.url()))
    store = _nasty_release(tmp_path, config)
    deliver_pending(store, config)
    (request,) = webhook.received
    assert request["headers"]["x-idempotency-key"] == "presswatch:president.uz:60:kazakhstan:newsroom"
    assert request["json"]["idempotency_key"] == "presswatch:president.uz:60:kazakhstan:newsroom"
    message = request["json"]["message"]
    assert message.splitlines()[0] == NASTY
    assert "«a snippet with <i>tags</i>, *stars* & _underscores_»" in message
    assert "Kazakhstan — Kazakhstan" in message
    assert message.splitlines()[-1] == "presswatch id: presswatch:president.uz:60:kazakhstan:newsroom"
    assert request["json"]["title"] == f"Kazakhstan: {NASTY}"


def test_email_html_escapes_the_headline_and_the_text_part_keeps_it(tmp_path, mailbox):
    config = make_config(route("mail", mailbox.url()))
    store = _nasty_release(tmp_path, config)
    assert deliver_pending(store, config).messages_sent == 1
    (message,) = mailbox.messages
    assert message["Subject"] == f"Kazakhstan: {NASTY}"
    assert message["X-Idempotency-Key"] == "presswatch:president.uz:60:kazakhstan:mail"
    html_part = part(message, "html")
    assert "<b>Visit of &lt;b&gt;Tokayev&lt;/b&gt; *Kazakhstan* _border_ &amp; water</b>" in html_part
    assert "&lt;i&gt;tags&lt;/i&gt;" in html_part
    assert '<a href="https://president.uz/en/lists/view/60">' in html_part
    assert NASTY in part(message, "plain")


class _Captured:
    def __init__(self) -> None:
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append(kwargs)
        response = mock.Mock(status_code=200, content=b'{"ok": true}', text='{"ok": true}')
        response.json.return_value = {"ok": True, "result": {}}
        return response


def test_telegram_gets_html_with_the_headline_escaped(tmp_path):
    config = make_config(route("tg", "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123/?image=no"))
    store = _nasty_release(tmp_path, config)
    captured = _Captured()
    with mock.patch("requests.post", captured):
        assert deliver_pending(store, config).messages_sent == 1
    (payload,) = [json.loads(c["data"]) for c in captured.calls]
    assert payload["parse_mode"] == "HTML"
    text = payload["text"]
    assert text.startswith("<b>Visit of &lt;b&gt;Tokayev&lt;/b&gt; *Kazakhstan* _border_ &amp; water</b>")
    assert '<a href="https://president.uz/en/lists/view/60">' in text


def test_discord_and_slack_get_escaped_markdown(tmp_path):
    config = make_config(route("chat", "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js",
                               "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#news"))
    store = _nasty_release(tmp_path, config)
    captured = _Captured()
    with mock.patch("requests.post", captured), mock.patch("requests.request", captured):
        deliver_pending(store, config)
    discord = next(json.loads(c["data"]) for c in captured.calls if "content" in json.loads(c["data"]))
    assert discord["content"].startswith(r"**Visit of \<b\>Tokayev\</b\> \*Kazakhstan\* \_border\_ & water**")
    slack = next(json.loads(c["data"]) for c in captured.calls if "attachments" in json.loads(c["data"]))
    text = slack["attachments"][0]["text"]
    assert "&lt;b&gt;Tokayev&lt;/b&gt;" in text and "<b>" not in text
    assert "<https://president.uz/en/lists/view/60|en>" not in text  # the link label is the title
    assert "<https://president.uz/en/lists/view/60|" in text


@pytest.mark.parametrize("fmt", [render.TEXT, render.MARKDOWN, render.HTML])
def test_markup_in_titles_never_becomes_markup(fmt):
    channel = render.Channel(scheme="x", fmt=fmt, limit=4000)
    body = render.render_lines([[render.b(NASTY)], [render.link("*a*", "https://x.example/a (b)")]], channel)
    if fmt == render.HTML:
        assert "<b>Tokayev" not in body and "&lt;b&gt;Tokayev" in body
    if fmt == render.MARKDOWN:
        assert r"\*Kazakhstan\*" in body and r"\_border\_" in body and r"\<b\>" in body
        assert "(https://x.example/a%20%28b%29)" in body


# --- limits ------------------------------------------------------------------------------------------
def test_a_long_alert_fits_telegram(tmp_path):
    config = make_config(route("tg", "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123/?image=no"))
    store = armed_store(tmp_path)
    tagger = FakeTagger()
    hooks = hooks_for(config, tagger)
    long_title = "Қозоғистон & <чегара> " * 200
    tagger.set(70, "uz", *[(topic, topic, "<сўз> " * 2000)
                           for topic in ("kazakhstan", "border", "water", "energy", "trade")])
    for lang in ("uz", "oz", "ru", "en"):
        save(store, hooks, item(70, lang, long_title))
    captured = _Captured()
    with mock.patch("requests.post", captured):
        assert deliver_pending(store, config).messages_sent == 1
    (payload,) = [json.loads(c["data"]) for c in captured.calls]
    assert len(payload["text"].encode("utf-16-le")) // 2 <= 4096
    assert payload["text"].rstrip().endswith("presswatch id: presswatch:president.uz:70:border+energy+kazakhstan+trade+water:tg</i>")


def test_a_digest_too_long_for_discord_is_split_between_releases():
    channel = render.channel_for("discord", render.MARKDOWN)
    views = [
        render.ReleaseView(i, f"Release number {i} " + "word " * 60, TODAY,
                           [("en", "t", f"https://president.uz/en/lists/view/{i}")],
                           [render.TopicHit("water", "Water", ["water"], "snippet " * 40)])
        for i in range(12)
    ]
    messages = render.render_digest(views, channel, "presswatch:digest:x", "digest")
    assert len(messages) > 1
    assert all(render.size(m.body) <= channel.limit for m in messages)
    text = "".join(m.body for m in messages)
    assert all(f"Release number {i} " in text for i in range(12))
    assert [m.key for m in messages] == [f"presswatch:digest:x:part{n}" for n in range(1, len(messages) + 1)]


# --- secrets ----------------------------------------------------------------------------------------
def test_urls_are_shown_as_scheme_and_host_only():
    assert describe_url("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123") == "tgram://***"
    assert describe_url("mailto://user:hunter2@smtp.example.org:587?to=a@b.c") == "mailto://smtp.example.org"
    assert describe_url("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#news") == "slack://***"
    assert describe_url("json://127.0.0.1:8080/hook?+Authorization=Bearer%20x") == "json://127.0.0.1"
    assert describe_url("ntfys://ntfy.sh/secret-topic") == "ntfys://ntfy.sh"


def test_idempotency_key_goes_into_webhook_and_mail_urls_only():
    assert with_idempotency_key("json://h/p?x=1#f", "presswatch:1:t:r") == (
        "json://h/p?x=1&+X-Idempotency-Key=presswatch%3A1%3At%3Ar&:idempotency_key=presswatch%3A1%3At%3Ar#f")
    assert with_idempotency_key("mailto://u:p@h", "k") == "mailto://u:p@h?+X-Idempotency-Key=k"
    assert with_idempotency_key("tgram://t/c", "k") == "tgram://t/c"


def test_secrets_from_the_environment_appear_in_no_output(tmp_path, monkeypatch, capsys, webhook):
    from crawler.cli import main

    token = "123456789:AAHsecretsecretsecretsecretsecret0"
    password = "s3cret-smtp-passw0rd"
    hook_token = "hooktoken-very-secret-0123"
    monkeypatch.setenv("TG_TOKEN", token)
    monkeypatch.setenv("SMTP_PASSWORD", password)
    monkeypatch.setenv("HOOK_TOKEN", hook_token)
    failing = webhook.port  # a receiver answering 500 (the mailto URL gets no SMTP there at all)
    config_file = tmp_path / "pw.toml"
    config_file.write_text(
        "[alerts]\nmax_attempts = 1\n"
        "[[alerts.routes]]\nname = \"secret\"\n"
        f"urls = [\"tgram://${{TG_TOKEN}}/-100123\", \"mailto://user:${{SMTP_PASSWORD}}@127.0.0.1:{failing}"
        f"?mode=insecure&to=a@example.org\", "
        f"\"json://127.0.0.1:{failing}/${{HOOK_TOKEN}}?+Authorization=${{HOOK_TOKEN}}\"]\n"
        "[[alerts.routes]]\nname = \"ops\"\nops = true\n"
        f"urls = [\"json://127.0.0.1:{failing}/ops/${{HOOK_TOKEN}}\"]\n",
        encoding="utf-8",
    )
    webhook.status = 500
    args = ["--config", str(config_file), "--store", str(tmp_path / "s.db")]
    from crawler.config import load_config

    config = load_config(config_file)
    store = armed_store(tmp_path)
    tagger = FakeTagger()
    tagger.set(80, "en", ("water", "water", "water"))
    save(store, hooks_for(config, tagger), item(80, "en", "Water"))
    store.close()

    with mock.patch("requests.post", _Failing(token)):
        codes = [main(["alerts", "routes", *args]), main(["-v", "alerts", "deliver", *args]),
                 main(["alerts", "list", "--json", *args]), main(["alerts", "list", *args]),
                 main(["alerts", "test", "secret", *args]), main(["-v", "alerts", "deliver", *args])]
    captured = capsys.readouterr()
    everything = captured.out + captured.err
    assert codes[0] == 0 and codes[1] == 1 and codes[4] == 1
    assert "tgram://***" in everything and "failed" in everything
    for secret in (token, password, hook_token, "AAHsecret"):
        assert secret not in everything
    rows = Store_rows(tmp_path)
    assert all(secret not in json.dumps(rows) for secret in (token, password, hook_token))


class _Failing:
    """Telegram answering 401 with the token echoed in the error, as an API might."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, url, *args, **kwargs):
        response = mock.Mock(status_code=401, content=f'{{"ok": false, "description": "bad {self.token}"}}'.encode())
        response.json.return_value = {"ok": False, "description": f"bad token {self.token}"}
        response.text = response.content.decode()
        return response


def Store_rows(tmp_path):  # noqa: N802
    from crawler.store import Store

    with Store.open(tmp_path / "s.db") as store:
        return list(store.db["outbox"].rows)


def test_sent_at_and_due_at_are_utc(tmp_path, webhook):
    config = make_config(route("newsroom", webhook.url()))
    store = armed_store(tmp_path)
    tagger = FakeTagger()
    tagger.set(90, "en", ("water", "water", "water"))
    save(store, hooks_for(config, tagger, clock=lambda: NOW), item(90, "en", "Water"))
    deliver_pending(store, config, now=later(NOW, seconds=1))
    (row,) = outbox(store)
    assert row["due_at"].endswith("+00:00") and row["sent_at"].endswith("+00:00")
    assert row["message_key"] == row["key"] == "presswatch:president.uz:90:water:newsroom"


@pytest.mark.parametrize("fmt", [render.TEXT, render.MARKDOWN, render.HTML])
def test_fitting_never_cuts_markup(fmt):
    channel = render.Channel(scheme="x", fmt=fmt, limit=300)
    lines = [[render.b("<&>" * 500)], [render.t("x" * 100)], [render.link("label", "https://e.example/" + "a" * 50)],
             [render.i("presswatch id: presswatch:president.uz:1:t:r")]]
    body = render.fit(lines, channel)
    assert render.size(body) <= 300
    assert body.endswith(render.render_lines([[render.i("presswatch id: presswatch:president.uz:1:t:r")]], channel))
    if fmt == render.HTML:
        assert body.count("<b>") == body.count("</b>") == 1 and body.count("<i>") == body.count("</i>")


def test_a_url_apprise_refuses_is_reported_with_its_reason_and_without_secrets(monkeypatch):
    from crawler.alerts.deliver import BadURL, channel_of
    from crawler.config import expand_env

    monkeypatch.setenv("SMTP_PASSWORD", "pa55-word-never-shown")
    url = expand_env("mailto://user:${SMTP_PASSWORD}@127.0.0.1:9?mode=nonsense&to=a@example.org", "f", "k")
    with pytest.raises(BadURL) as caught:
        channel_of(url)
    message = str(caught.value)
    assert message.startswith("mailto://127.0.0.1: Apprise does not accept this URL (")
    assert "nonsense" in message and "pa55-word-never-shown" not in message
