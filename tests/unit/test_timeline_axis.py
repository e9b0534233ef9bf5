"""The Timeline's time axis ends at or after every segment it draws."""

from __future__ import annotations

import pytest

from flowmon.web.widgets.timeline_chart import axis_end


@pytest.mark.parametrize(
    ('seconds', 'end'),
    [(0.622099, 0.623), (0.6223, 0.623), (0.622, 0.622), (0.0001, 0.001), (2.0, 2.0), (12.3450000001, 12.345)],
)
def test_the_axis_ends_at_the_run_rounded_up_to_the_millisecond(seconds: float, end: float) -> None:
    """A segment is drawn to a tenth of a millisecond (0.6221 s): an axis rounded to the nearest millisecond (0.622)
    cut its end off; a float's noise past an exact millisecond does not add one."""
    assert axis_end(seconds) == end
