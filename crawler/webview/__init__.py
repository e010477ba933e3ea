"""The product pages of `presswatch serve`: releases, search, a release with its edits, topic trends,
health and feeds, served as routes of the Datasette plugin (crawler/web_plugin.py)."""
