"""Several sources in one daemon: does a failing or hanging source delay another?

    python bench/bench_sources.py [--rounds 3]

The press site (devsites/presssite.py, kind generic, 63 release versions in kk/ru/en) is crawled by
`presswatch run` in three set-ups, side by side in one session: alone; together with the
president.uz mirror answering 503 to everything; together with the mirror hanging on every request.
Measured: the seconds from the daemon's start until every press site release is in the store
(median of the rounds), and the ratio to "alone". Target: about 1 (the faulty source runs in a
job of its own).
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine  # noqa: E402  (bench/ is on sys.path when run as a script)

from devsites.mirror import Hang, Mirror, Status, sample_releases
from devsites.presssite import PressSite

PATTERN = r"/(?P<lang>[a-z]{2})/press/\d{4}/\d{2}/\d{2}/[a-z0-9-]+-(?P<id>\d+)"
FAST = 'request_delay = 0\nmax_attempts = 1\nobey_robots = false\nconnect_timeout = 2.0\nread_timeout = 25.0\n'


def config_text(site: PressSite, mirror: Mirror | None) -> str:
    text = ""
    if mirror is not None:
        text += f'[[sources]]\nname = "president.uz"\nbase_url = "{mirror.base_url}"\nlanguages = ["en"]\n{FAST}\n'
    text += (f'[[sources]]\nname = "akorda"\nkind = "generic"\nbase_url = "{site.base_url}"\n'
             f'languages = ["kk", "ru", "en"]\n{FAST}\n[sources.generic]\ntimezone = "Asia/Almaty"\n'
             'list_url = "/{lang}/press/page/{page}"\nfirst_page_url = "/{lang}/press"\n'
             f"release_pattern = '{PATTERN}'\nshared_ids = false\n\n"
             '[store]\npath = "store.db"\n[schedule]\ninterval_minutes = 0.05\njitter_seconds = 0\n')
    return text


def time_to_crawl(site: PressSite, mirror: Mirror | None) -> float:
    wanted = {(a.id, a.lang) for a in site.articles}
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "presswatch.toml"
        config.write_text(config_text(site, mirror), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("PRESSWATCH_CONFIG", None)
        started = time.monotonic()
        daemon = subprocess.Popen([sys.executable, "-m", "crawler", "run", "--config", str(config)], cwd=folder,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            deadline = started + 120
            while time.monotonic() < deadline:
                store = Path(folder) / "store.db"
                if store.exists():
                    try:
                        with sqlite3.connect(store, timeout=5) as db:
                            if wanted <= set(db.execute("select id, lang from items")):
                                return time.monotonic() - started
                    except sqlite3.OperationalError:
                        pass
                time.sleep(0.02)
            raise SystemExit("the press site was not crawled within 120 s")
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                daemon.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    setups = {"alone": None, "with a source answering 503": Status(503), "with a hanging source": Hang(25)}
    times: dict[str, list[float]] = {name: [] for name in setups}
    with PressSite() as site:
        for _ in range(args.rounds):
            for name, fault in setups.items():  # side by side, round by round
                if fault is None:
                    times[name].append(time_to_crawl(site, None))
                    continue
                with Mirror(sample_releases(6)) as mirror:
                    mirror.add_fault(lambda path: True, fault)
                    times[name].append(time_to_crawl(site, mirror))
    alone = statistics.median(times["alone"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:30} every press site release stored {median:5.2f} s after start "
              f"(median of {len(values)}; ratio to alone {median / alone:.2f})")


if __name__ == "__main__":
    main()
