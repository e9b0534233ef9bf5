"""Previous / next paging with "41-60 of 1,234" (server-side: the page asks SQL for one page at a time)."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from flowmon.web.format import count


class Pager:
    """Shows where the visible rows sit in the total and moves between pages through ``on_page``.

    Nothing is shown when there is nothing to page through (the list's empty state says so already).
    """

    def __init__(self, *, page: int, page_size: int, total: int, on_page: Callable[[int], None]) -> None:
        if total <= 0 and page <= 1:
            return
        last_page = max(1, -(-total // page_size))
        first = (page - 1) * page_size + 1
        last = min(total, page * page_size)
        where = f'{count(first)}\N{EN DASH}{count(last)} of {count(total)}' if first <= total else 'Past the end'
        with ui.row().classes('w-full items-center justify-end gap-2 fm-pager').mark('pager'):
            ui.label(where).classes('text-sm text-grey-7').mark('pager-range')
            if last_page == 1 and page == 1:
                return  # everything is on this page: nothing to move between
            previous = ui.button(icon='chevron_left', on_click=lambda: on_page(min(page - 1, last_page)))
            previous.props('flat round dense aria-label="Previous page"').mark('pager-previous')
            previous.set_enabled(page > 1)
            ui.label(f'Page {count(page)} of {count(last_page)}').classes('text-sm')
            following = ui.button(icon='chevron_right', on_click=lambda: on_page(page + 1))
            following.props('flat round dense aria-label="Next page"').mark('pager-next')
            following.set_enabled(page < last_page)
