"""The app's style sheet keeps a live page cheap to restyle."""

from __future__ import annotations

import re

from flowmon.web import app_css


def test_the_app_css_has_no_has_selector() -> None:
    # A selector such as `body:has(.fm-inspector) .q-page-container` has the browser match the page's style again on
    # each change below its subject: on a live execution page (a line of the event log, a row of the node list ten
    # times a second) style work cost 4.5 times as much and the frame rate fell from 30 to 8 a second. State such as
    # "the inspector is open" goes on the body as a class (widgets/inspector.py) instead.
    rules = re.sub(r'/\*.*?\*/', '', app_css(), flags=re.S)
    assert '@layer overrides' in rules and '.fm-log' in rules and '.fm-inspecting' in rules  # (the whole sheet)
    assert ':has(' not in rules
