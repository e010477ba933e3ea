"""Hostile page text cannot flood the store: the matches kept per version and topic are capped."""

from __future__ import annotations

from crawler.config import Config
from crawler.model import ParsedItem
from crawler.store import Store
from crawler.tagging import Tagger, load_topicset
from crawler.topics.matcher import MAX_MATCHES_PER_TOPIC


def test_a_page_of_repeated_topic_words_keeps_a_bounded_number_of_matches(tmp_path):
    body = " ".join(["Сув ва чегара масаласи Қозоғистон билан."] * 20_000)  # 60,000 hits of three topics
    item = ParsedItem(source="president.uz",
                      id=1, lang="uz", url="http://127.0.0.1:9/uz/lists/view/1", title="Сув", published=None,
                      paragraphs=[body])
    tagger = Tagger(load_topicset(Config()))
    with Store.open(tmp_path / "s.db") as store:
        with store.atomic():
            store.save_item(item)
            matches = tagger(store, item)
        per_topic = dict(store.db.execute("select topic, count(*) from matches group by topic").fetchall())
    assert set(per_topic) == {"water", "border", "kazakhstan"}
    assert all(count <= MAX_MATCHES_PER_TOPIC for count in per_topic.values())
    assert matches.counts["water"] > 20_000  # the exact count is still known
