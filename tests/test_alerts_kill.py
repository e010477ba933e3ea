"""`presswatch alerts deliver` killed with SIGKILL at random moments against a slow webhook: nothing is
lost, and every duplicate is one the receiver accepted while the outbox had not yet recorded it.

Each killed process is forked with the CLI and Apprise already imported (tests/forked_cli.py), so a
trial pays for delivering, not for Python's start-up; the runs that finish the outbox at the end are
`python -m crawler` as a user starts it.

The numbers (trials, kills during sending, duplicates and where they came from) are printed (pytest -s)
and recorded as junit properties.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from forked_cli import CliProcess
from test_alerts_support import TODAY, FakeTagger, Webhook, arm, hooks_for, item, open_store, outbox, save

TRIALS = 30
TIME_BUDGET = 150.0


def _queue(store, config, first: int, count: int) -> None:
    tagger = FakeTagger()
    hooks = hooks_for(config, tagger)
    for release_id in range(first, first + count):
        tagger.set(release_id, "en", ("water", "water", f"… water {release_id} …"))
        save(store, hooks, item(release_id, "en", f"Release {release_id}", published=TODAY))


def _kill_at_random(process: CliProcess, webhook: Webhook, received_before: int, rng: random.Random,
                    modes: Counter) -> float | None:
    """SIGKILL the delivery process at one of three kinds of moments; the kill's time, or None when the
    process ended first.

    - startup: any time in its first 0.6 s (often before it sends anything);
    - sending: 0-0.5 s after the receiver got its first message (mid-request, mid-commit...);
    - answered: right after the receiver answered its k-th message, before presswatch can commit:
      the narrow window between Apprise's success and the commit, hit on purpose.
    """
    mode = rng.choices(["startup", "sending", "answered"], weights=[15, 55, 30])[0]
    modes[mode] += 1
    killed: list[float] = []
    if mode == "answered":
        target = received_before + rng.randint(1, 5)

        def kill(entry) -> None:
            if not killed and len(webhook.received) >= target:
                killed.append(time.monotonic())
                os.kill(process.pid, signal.SIGKILL)

        webhook.on_answered = kill
    deadline = time.monotonic() + (rng.uniform(0.05, 0.6) if mode == "startup" else 30.0)
    while process.poll() is None and time.monotonic() < deadline and not killed:
        if mode == "sending" and len(webhook.received) > received_before:
            deadline = min(deadline, time.monotonic() + rng.uniform(0.0, 0.5))
            mode = "sending-armed"
        time.sleep(0.005)
    if not killed and process.poll() is None:
        killed.append(time.monotonic())
        process.send_signal(signal.SIGKILL)
    process.wait()
    return killed[0] if killed else None


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigkill_during_delivery_loses_nothing_and_duplicates_only_inside_the_window(tmp_path, record_property):
    from crawler.config import load_config

    rng = random.Random(int(os.environ.get("PRESSWATCH_KILL_SEED", "20240510")))
    with Webhook() as webhook:
        webhook.delay_before = 0.03  # the receiver reads and thinks...
        webhook.delay_after = 0.03  # ...accepts, then answers a little later
        config_file = tmp_path / "pw.toml"
        config_file.write_text(
            "[alerts]\nretry_base_seconds = 0\nmax_attempts = 1000\n"
            f"[[alerts.routes]]\nname = \"newsroom\"\nurls = [\"{webhook.url()}\"]\n", encoding="utf-8")
        config = load_config(config_file)
        store = open_store(tmp_path)
        arm(store)
        next_id = 1
        _queue(store, config, next_id, 40)
        next_id += 40
        argv = ["alerts", "deliver", "--config", str(config_file), "--store", str(tmp_path / "s.db")]
        log = tmp_path / "deliver.log"
        # Messages the receiver had accepted but the outbox had not marked sent when a process died
        # (the duplicate window): by key, and by kind: "answered" when the receiver's answer had left
        # before the kill (Apprise's success, then no commit), "unanswered" when not.
        window_hits: Counter[str] = Counter()
        accounted: Counter[str] = Counter()
        window_kinds: Counter[str] = Counter()
        kills = kills_while_sending = trials = 0
        modes: Counter[str] = Counter()
        started = time.monotonic()
        while trials < TRIALS and time.monotonic() - started < TIME_BUDGET:
            received_before = len(webhook.received)
            process = CliProcess(argv, stderr=log)
            killed_at = _kill_at_random(process, webhook, received_before, rng, modes)
            webhook.on_answered = None
            if killed_at is not None:
                kills += 1
                webhook.quiet()
                kills_while_sending += len(webhook.received) > received_before
                sent = {row["key"] for row in outbox(store, "status = 'sent'")}
                copies = Counter(webhook.keys())
                for entry in webhook.received:
                    key = entry["headers"]["x-idempotency-key"]
                    # accepted by the receiver, not committed, and a copy not yet accounted for
                    if key not in sent and copies[key] > accounted[key]:
                        accounted[key] = copies[key]
                        window_hits[key] += 1
                        answered = entry["answered"] is not None and entry["answered"] <= killed_at
                        window_kinds["answered" if answered else "unanswered"] += 1
            trials += 1
            if len(outbox(store, "status = 'pending'")) < 10:
                _queue(store, config, next_id, 20)  # keep the next process busy sending
                next_id += 20
        # Then let deliveries finish undisturbed, with `python -m crawler` as a user starts it.
        with open(log, "ab") as stderr:
            for _ in range(5):
                subprocess.run([sys.executable, "-m", "crawler", *argv], stdout=subprocess.DEVNULL, stderr=stderr,
                               timeout=120, check=False)
                if not outbox(store, "status = 'pending'"):
                    break
        webhook.quiet()

        rows = outbox(store)
        counts = Counter(webhook.keys())
        duplicates = {key: n for key, n in counts.items() if n > 1}
        lost = [row["key"] for row in rows if row["status"] != "sent" or counts[row["key"]] == 0]
        numbers = {
            "trials": trials, "kills": kills, "kills_while_sending": kills_while_sending,
            "alerts": len(rows), "deliveries": sum(counts.values()), "lost": len(lost),
            "duplicates": sum(n - 1 for n in duplicates.values()),
            "kill_modes": dict(modes), "in_window_at_a_kill": sum(window_hits.values()),
            "window_answered": window_kinds["answered"], "window_unanswered": window_kinds["unanswered"],
            "seconds": round(time.monotonic() - started, 1),
        }
        for name, value in numbers.items():
            record_property(name, value)
        print("\nSIGKILL delivery test: " + ", ".join(f"{k}={v}" for k, v in numbers.items()))

    assert trials == TRIALS, f"only {trials} trials in {TIME_BUDGET} s"
    assert kills_while_sending >= 10, "the kills should land while messages are being sent"
    assert lost == []
    # Each copy beyond the first is one caught in the window at a kill (accepted, not yet committed),
    # and each one caught there was sent again: duplicates happen there and only there.
    assert {key: counts[key] - 1 for key in counts if counts[key] > 1} == dict(window_hits)
    assert numbers["duplicates"] <= kills
