"""presswatch: monitor press releases, store them in every language, tag topics, send alerts."""

__version__ = "0.1.0"
