"""A bound on the pages served whose browser has not connected: the newest are kept, the oldest let go.

Every page load builds a NiceGUI client with its elements before the HTML is sent: the sign-in form, which anyone
who can reach flowmon may load without a session, holds about 75 elements and 400 kB. NiceGUI keeps such a client
until the browser opens the page's socket, or for 60 s when none does; a script that only loads pages (25 ms of CPU
each) made the process hold every page of the last minute, about 1 GB at 40 loads a second.

A real browser connects within a second or two of the load, so only the newest pages need keeping: past the limit
the oldest page still waiting is deleted. Should its browser connect after all, NiceGUI refuses the socket and the
browser loads the page again. A page whose socket has connected once is no longer counted, and never let go here
(NiceGUI keeps it for its reconnection time when the socket drops).
"""

from __future__ import annotations

from collections import OrderedDict

from nicegui import Client


class UnconnectedPages:
    """The ids of the clients built for a page whose socket has not connected yet, oldest first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._waiting: OrderedDict[str, None] = OrderedDict()  # (a dict finds its first key past all deleted)

    def admit(self, client: Client) -> None:
        """Count ``client`` (its page is being built) as waiting for its socket; past the limit, delete the oldest
        still waiting. Amortised O(1): each client is added once and removed once."""
        self._waiting[client.id] = None
        client.on_connect(self._forget)
        client.on_delete(self._forget)
        while len(self._waiting) > self.limit:
            oldest_id, _ = self._waiting.popitem(last=False)
            oldest = Client.instances.get(oldest_id)
            if oldest is not None and not oldest.has_socket_connection and not oldest.is_deleted:
                oldest.delete()

    def _forget(self, client: Client) -> None:
        self._waiting.pop(client.id, None)
