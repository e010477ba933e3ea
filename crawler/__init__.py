"""presswatch: monitor president.uz press releases, store them, tag topics, send alerts."""

__version__ = "0.1.0"
