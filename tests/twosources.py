"""The config of two sources whose release ids collide on purpose, shared by the tests that need
one store holding both: the president.uz mirror (devsites/mirror.py) as "president.uz", and the
press site unlike it (devsites/presssite.py, kind generic) as "akorda", in Asia/Almaty."""

from __future__ import annotations

PRESS_PATTERN = r"/(?P<lang>[a-z]{2})/press/\d{4}/\d{2}/\d{2}/[a-z0-9-]+-(?P<id>\d+)"
FAST = 'request_delay = 0\nobey_robots = false\nmax_attempts = 1\ncontact = "mailto:ops@example.org"\n'


def two_sources_toml(mirror_url: str, site_url: str, *, chrome: str = "", store: str = "store.db",
                     tail: str = "") -> str:
    """`chrome`: a chrome phrase for the mirror's selectors only; `tail`: more TOML (alert routes...)."""
    selectors = f'[sources.selectors]\nchrome_phrases = ["{chrome}"]\n' if chrome else ""
    return f"""
[[sources]]
name = "president.uz"
base_url = "{mirror_url}"
languages = ["ru", "en"]
{FAST}
{selectors}
[[sources]]
name = "akorda"
kind = "generic"
base_url = "{site_url}"
languages = ["kk", "ru", "en"]
{FAST}
[sources.generic]
name = "Akorda"
timezone = "Asia/Almaty"
list_url = "/{{lang}}/press/page/{{page}}"
first_page_url = "/{{lang}}/press"
release_pattern = '{PRESS_PATTERN}'
shared_ids = false

[store]
path = "{store}"
{tail}"""
