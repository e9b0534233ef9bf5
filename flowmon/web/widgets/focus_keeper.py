"""The keyboard's place kept: when the element that has focus leaves the page, focus goes back to the control the
visitor was on, not to the top of the page (``<body>``), where a keyboard or screen-reader user would start again.

Two ways an element with focus leaves: a dialog closes and is deleted (or Quasar removes its portal) before Quasar
gives focus back to the control that opened it, and a list is redrawn with its rows' buttons (Replace a secret, then
the list shows its new update time). ``focus_keeper.js`` remembers the last focused control outside dialogs and menus,
by its accessible name (``aria-label``) or ``data-testid``; when the focused element is gone and focus fell to
``<body>``, it focuses that control, or the one element that now bears its name. Put once on every page (the shell
does); its listeners live and die with it.
"""

from __future__ import annotations

from nicegui import ui


class FocusKeeper(ui.element, component='focus_keeper.js'):
    pass
