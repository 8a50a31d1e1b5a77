"""Stacks (tests, bench) reserve ports before starting anything: none may be given twice."""

from __future__ import annotations

from common.devrunner import free_port


def test_free_port_never_hands_out_a_port_twice() -> None:
    ports = [free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)
