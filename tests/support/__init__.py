"""Helpers shared by the test suite: backends, processes and GraphQL clients."""
