"""Imported once, by the fork server of tests/forked_cli.py only: the modules `presswatch` commands
import, so that each forked command starts with them in place. Imports only: no command runs here."""

import contextlib
import importlib
import pkgutil

import crawler.cli  # noqa: F401 - the point is the import

with contextlib.suppress(ImportError):
    import apprise.plugins

    # `alerts deliver` has Apprise load every plugin module on its first message (0.3 s a process).
    for plugin in pkgutil.iter_modules(apprise.plugins.__path__, "apprise.plugins."):
        with contextlib.suppress(Exception):
            importlib.import_module(plugin.name)
