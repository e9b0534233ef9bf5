"""What the perimeter derives from the settings: the session cookie, forwarded headers, socket.io origins."""

from __future__ import annotations

from flowmon.perimeter import Perimeter, socket_origins
from flowmon.settings import load_settings


def test_the_session_cookie_is_secure_only_behind_an_https_public_url() -> None:
    plain = Perimeter(load_settings({'FLOWMON_SESSION_HOURS': '2'}), 'token-of-sixteen-chars').run_options()
    assert plain['session_middleware_kwargs'] == {
        'session_cookie': 'flowmon_session',
        'max_age': 7200,
        'same_site': 'lax',
        'https_only': False,
    }
    https = Perimeter(load_settings({'FLOWMON_PUBLIC_URL': 'https://flowmon.example.org'}), 'token-of-sixteen-chars')
    assert https.run_options()['session_middleware_kwargs']['https_only'] is True


def test_forwarded_headers_count_only_from_listed_proxies() -> None:
    direct = Perimeter(load_settings({}), 'token-of-sixteen-chars').run_options()
    assert direct['proxy_headers'] is False and 'forwarded_allow_ips' not in direct
    proxied = Perimeter(load_settings({'FLOWMON_TRUSTED_PROXIES': '10.0.0.2, 10.1.0.0/16'}), 'token-of-sixteen-chars')
    assert proxied.run_options()['proxy_headers'] is True
    assert proxied.run_options()['forwarded_allow_ips'] == ['10.0.0.2', '10.1.0.0/16']


def test_socket_io_origins_are_the_allowed_hosts_on_our_port_and_the_public_url() -> None:
    assert socket_origins(load_settings({'FLOWMON_PORT': '9000'})) == [
        'http://localhost:9000',
        'http://127.0.0.1:9000',
        'http://[::1]:9000',
    ]
    behind_proxy = load_settings(
        {'FLOWMON_ALLOWED_HOSTS': 'flowmon.lan', 'FLOWMON_PUBLIC_URL': 'https://f.example.org'}
    )
    assert socket_origins(behind_proxy) == ['http://flowmon.lan:8080', 'https://f.example.org']
    on_80 = load_settings({'FLOWMON_PORT': '80', 'FLOWMON_ALLOWED_HOSTS': 'box'})
    assert socket_origins(on_80) == ['http://box:80', 'http://box']
