"""Alerts: an outbox written with each stored release, delivered through Apprise (docs/ALERTS.md).

- `alerts_hook(config)`: the pipeline ReleaseHook, after topic tagging.
- `deliver_pending(store, config, now=None) -> DeliveryReport`: one delivery pass.
- `notify_ops(store, config, subject, body, key)`: a message for the ops routes, once per key.
- `alerts_summary(store, config)`: counts and routes (URLs redacted) for `presswatch status`.

Apprise is imported only when something is sent, so loading this package stays cheap.
"""

from __future__ import annotations

from typing import Any

from crawler.alerts.deliver import DeliveryReport, deliver_pending, describe_url
from crawler.alerts.outbox import alerts_hook, notify_ops
from crawler.config import Config
from crawler.store import Store

__all__ = ["alerts_hook", "deliver_pending", "notify_ops", "DeliveryReport", "alerts_summary"]


def alerts_summary(store: Store, config: Config) -> dict[str, Any]:
    """Outbox counts by status and the configured routes, each URL as scheme and redacted host only."""
    counts: dict[str, int] = {}
    if store.db["outbox"].exists():
        counts = dict(store.db.execute("select status, count(*) from outbox group by status").fetchall())
    routes = [
        {"name": r.name, "mode": r.mode, "ops": r.ops, "topics": list(r.topics) or "all",
         "urls": [describe_url(u) for u in r.urls]}
        for r in config.alerts.routes
    ]
    return {"outbox": counts, "routes": routes}
