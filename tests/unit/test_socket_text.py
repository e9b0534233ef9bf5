"""The decoding of what a browser sends over the page's socket: a lone surrogate is kept, anything else as before."""

from __future__ import annotations

import pytest
from nicegui import json as nicegui_json

from flowmon.web.socket_text import keep_lone_surrogates


def test_a_lone_surrogate_is_decoded_and_what_is_not_json_is_still_refused() -> None:
    keep_lone_surrogates()
    installed = nicegui_json.loads
    keep_lone_surrogates()  # a second call wraps nothing again
    assert nicegui_json.loads is installed
    assert nicegui_json.loads('["a\\ud800b", "\\udc00", "\\ud83d\\ude00"]') == ['a\ud800b', '\udc00', '\U0001f600']
    for not_json in ('{"a": ', 'NaN', '[1,]'):
        with pytest.raises(ValueError):
            nicegui_json.loads(not_json)
