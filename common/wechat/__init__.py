"""Clients of WeChat's server APIs (the same code talks to the bundled sandbox in dev)."""
