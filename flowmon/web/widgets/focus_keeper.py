"""The keyboard's place kept: when the element that has focus leaves the page, focus goes back to the control the
visitor was on, not to the top of the page (``<body>``), where a keyboard or screen-reader user would start again.

Two ways an element with focus leaves: a dialog closes and is deleted (or Quasar removes its portal) before Quasar
gives focus back to the control that opened it, and a list is redrawn with its rows' buttons (Replace a secret, then
the list shows its new update time). ``focus_keeper.js`` remembers the last focused control outside dialogs and menus,
by its accessible name (``aria-label``) or ``data-testid``; when the focused element is gone and focus fell to
``<body>`` (it looks a few times a second: watching every change of a live page cost the event log its scrolling),
it focuses that control, or the one element that now bears its name. A dialog is modal: focus that leaves it for
the page (Tab pressed quickly past its last control) goes back into it.

In a menu (Quasar's ``QMenu``, ``role=menu``), ↓ and ↑ move focus between its entries marked ``role=menuitem``
(:func:`menu_entry`), round from the last to the first, Home and End to the first and the last; Enter chooses one
(Quasar's item does that). A key pressed as the menu opens, before Quasar gives it focus, moves into it too. A
character typed in a menu with a text box (the workflows' filter) goes into the box: type to narrow, ↓ to the
entries. Put once on every page (the shell does); its listeners live and die with it.
"""

from __future__ import annotations

from nicegui import ui


class FocusKeeper(ui.element, component='focus_keeper.js'):
    pass


def menu_entry(item: ui.menu_item) -> ui.menu_item:
    """``item`` as an entry of its menu for assistive technology and the arrow keys (``role=menuitem``; Quasar's
    items say ``listitem``)."""
    item.props['role'] = 'menuitem'
    return item
