"""How the webhook pages name a destination: host, port and path, from a URL stored at any time."""

from __future__ import annotations

import pytest

from flowmon.web.webhook_format import host_and_path


@pytest.mark.parametrize(
    ('url', 'shown'),
    [
        ('https://hooks.example.com/in', 'hooks.example.com/in'),
        ('https://hooks.example.com/', 'hooks.example.com'),
        ('https://hooks.example.com:8443/in', 'hooks.example.com:8443/in'),
        ('https://[2001:db8::1]:8443/x', '2001:db8::1:8443/x'),
        # stored before a port that is not plain digits was refused: shown without it, never an error
        ('https://hooks.example.com:+443/in', 'hooks.example.com/in'),
        ('https://hooks.example.com:1_0/', 'hooks.example.com'),
    ],
)
def test_a_destination_is_named_by_host_port_and_path(url: str, shown: str) -> None:
    assert host_and_path(url) == shown
