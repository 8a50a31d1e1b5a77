"""`make bench`: throughput and latency of the router, a subgraph and their ceilings."""
