"""miner's HTTP API (FastAPI) and the analysts' web page."""
