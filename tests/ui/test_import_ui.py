"""Importing an execution from the executions page: the file checked and stored, the page taken to its replay; an
import that ends after its page was left is stored all the same, and nothing is told to the page gone (that was an
ERROR with a traceback)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing.user import User
from uisim import api, click_when_shown, sign_in, start, wait_for_path, wait_until_ended
from waiting import until

from flowmon.application.exchange import Exchange


async def exported_run(user: User) -> bytes:
    ended = await start(user, 'quick')
    await wait_until_ended(user, ended)
    return (await api(user, 'GET', f'/api/executions/{ended}/export')).content


async def upload(user: User, content: bytes) -> None:
    (element,) = user.find(marker='import-upload').elements
    await element.handle_uploads([SmallFileUpload('run.json', 'application/json', content)])


async def runs(user: User) -> int:
    return int((await api(user, 'GET', '/api/executions?workflow_id=quick')).json()['total'])


async def test_an_imported_file_opens_its_replay(user: User) -> None:
    content = await exported_run(user)
    await sign_in(user, '/executions')
    await click_when_shown(user, 'import-execution')
    await upload(user, content)
    path = await wait_for_path(user, r'/executions/[^/]+/replay')
    assert [message for message in user.notify.messages if message.startswith('Imported as ')], user.notify.messages
    assert path.split('/')[2] in (await api(user, 'GET', '/api/executions?workflow_id=quick')).text


async def test_an_import_ending_after_its_page_was_left_is_stored_and_tells_nothing(
    user: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger='flowmon.web.widgets.import_button')
    content = await exported_run(user)
    release = asyncio.Event()
    checking = asyncio.Event()
    original = Exchange.import_file

    async def held(self: Exchange, file: bytes) -> object:
        checking.set()
        await release.wait()
        return await original(self, file)

    monkeypatch.setattr(Exchange, 'import_file', held)
    await sign_in(user, '/executions')
    await click_when_shown(user, 'import-execution')
    uploading = asyncio.create_task(upload(user, content))
    await until(checking.is_set, 'the file being checked')
    left = user.client
    assert left is not None
    await sign_in(user, '/')  # the page left while its import is checked,
    left.delete()  # and let go (as NiceGUI does once its socket has been gone a while)
    release.set()
    await uploading

    async def stored() -> bool:
        return await runs(user) == 2

    await until(stored, 'the import stored')  # (the user fixture fails the test on any ERROR logged)
    assert 'import of run.json ended after its page was left: Imported as ' in caplog.text
