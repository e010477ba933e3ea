"""A route filtered on the opt-in topic `uzbekistan` receives the releases of the generic source
that names it in its `topics` (a press site of Kazakhstan writing about Uzbekistan), while
president.uz, in the same store, keeps its default topics: none of its releases is tagged
`uzbekistan`, though they name the country on every page."""

from __future__ import annotations

import datetime as dt
import sqlite3

from test_alerts_support import Webhook
from twosources import two_sources_toml

from crawler.cli import main
from devsites.mirror import Mirror, sample_releases
from devsites.presssite import PressSite, sample_articles

ARTICLES = sample_articles(4, first_id=9180, newest=dt.date(2024, 1, 15))


def releases_naming_uzbekistan():
    releases = sample_releases(3, first_id=9180)
    for release in releases:
        release.versions["ru"].paragraphs.append("Республика Узбекистан продолжит эту работу.")
        release.versions["en"].paragraphs.append("The Republic of Uzbekistan will continue this work.")
    return releases


def test_a_route_on_the_opt_in_topic_gets_the_generic_sources_release_only(tmp_path, capsys):
    with Webhook() as hook, Mirror(releases_naming_uzbekistan()) as mirror, PressSite(ARTICLES) as site:
        text = two_sources_toml(mirror.base_url, site.base_url, store=str(tmp_path / "store.db"), tail=f"""
[alerts]
horizon_days = 36500

[[alerts.routes]]
name = "neighbours"
topics = ["uzbekistan"]
urls = ["{hook.url()}"]
""").replace('kind = "generic"\n', 'kind = "generic"\ntopics = ["uzbekistan"]\n', 1)
        config = tmp_path / "presswatch.toml"
        config.write_text(text, encoding="utf-8")
        assert main(["crawl", "--config", str(config)]) == 0
        db = sqlite3.connect(tmp_path / "store.db")
        tagged = dict(db.execute("select source, group_concat(distinct topic) from matches group by source"))
        assert tagged["akorda"] == "uzbekistan"
        assert tagged["president.uz"] and "uzbekistan" not in tagged["president.uz"].split(",")
        assert db.execute("select count(*) from items where source = 'president.uz' "
                          "and (paragraphs like '%Uzbekistan%' or paragraphs like '%Узбекистан%')").fetchone()[0]
        # a retag tags each source with its own topics too, as its crawl did: nothing moves
        matches = db.execute("select source, id, lang, topic, term, start from matches order by 1, 2, 3, 4, 5, 6").fetchall()
        assert main(["retag", "--all", "-q", "--config", str(config)]) == 0
        assert main(["retag", "-q", "--config", str(config)]) == 0
        assert capsys.readouterr().out.splitlines()[-1].startswith("retagged 0 language versions")
        assert db.execute("select source, id, lang, topic, term, start from matches order by 1, 2, 3, 4, 5, 6"
                          ).fetchall() == matches
        queued = db.execute("select distinct source, release_id from outbox where route = 'neighbours'").fetchall()
        assert queued and {source for source, _ in queued} == {"akorda"}
        assert {release_id for _, release_id in queued} <= {a.id for a in ARTICLES}
        # the first crawl queues its alerts silenced: send them again, and they reach the route
        ids = [str(row[0]) for row in db.execute("select id from outbox where route = 'neighbours'")]
        assert main(["alerts", "retry", *ids, "--config", str(config)]) == 0
        assert main(["alerts", "deliver", "--config", str(config)]) == 0
        received = [entry["json"]["title"] + "\n" + entry["json"]["message"] for entry in hook.received]
    assert len(received) == len(ids)
    assert all("Akorda" in message and ("Uzbekistan" in message or "Узбекистан" in message) for message in received), received
