"""The page's socket JSON: a lone surrogate is kept both ways, anything else as before."""

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


def test_a_lone_surrogate_is_encoded_as_the_browser_reads_it_and_the_rest_as_before() -> None:
    keep_lone_surrogates()
    assert nicegui_json.dumps({'value': 'Ops\ud800'}, separators=(',', ':')) == '{"value":"Ops\\ud800"}'
    assert nicegui_json.loads(nicegui_json.dumps(['a\udc00'])) == ['a\udc00']
    assert nicegui_json.dumps({'b': 1, 'a': 'é'}, sort_keys=True) == '{"a":"é","b":1}'  # orjson's, unchanged
    with pytest.raises(TypeError):
        nicegui_json.dumps({'not json': object()})
