"""miner: mine Chinese supervision reports for problems that recur across agencies."""

__version__ = "0.1.0"
