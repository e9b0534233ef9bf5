"""The errors in a flowmon server log, for the fuzz run: each distinct traceback or ERROR line once, shortened.

A fuzz case that made the server log a traceback failed even when its answer was not a 500 (an exception in a
background task, or one a handler turned into a 4xx after logging it). Prints each distinct error (keyed by its
last line, the exception) with how often it occurred, its first line (the timestamped log line) and the innermost
frames; exits 1 when there is any.

Usage: ``python tests/fuzz/log_errors.py SERVER_LOG``
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

TIMESTAMP = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ')
# the start of a log record: flowmon's "2026-01-01 12:00:00,000 LEVEL ..." or uvicorn's "LEVEL:    ..."
RECORD = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ |[A-Z]+: {2,})')
ERROR = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (ERROR|CRITICAL) |(ERROR|CRITICAL): {2,})')
FRAME_LINES = 16  # innermost lines of a traceback shown
IDS = re.compile(r'[0-9a-f]{8,}')  # execution, endpoint, delivery ids: one error whatever the id
SHOWN = 8  # distinct errors shown


def errors(lines: list[str]) -> list[list[str]]:
    """Blocks of lines: an ERROR/CRITICAL record or a bare ``Traceback`` with every line up to the next record."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in lines:
        if RECORD.match(line):
            current = [line] if ERROR.match(line) else None
            if current is not None:
                blocks.append(current)
        elif current is not None:
            current.append(line)
        elif line.startswith('Traceback'):
            current = [line]
            blocks.append(current)
    return blocks


def key(block: list[str]) -> str:
    """The exception line (the last non-empty line, without exception-group bars), or the record itself (without
    its timestamp), with ids blanked."""
    tail = [line.strip(' |') for line in block if line.strip(' |+-')]
    found = tail[-1] if len(block) > 1 and tail else TIMESTAMP.sub('', block[0])
    return IDS.sub('<id>', found)


def main() -> None:
    blocks = errors(Path(sys.argv[1]).read_text(encoding='utf-8', errors='replace').splitlines())
    if not blocks:
        print('  (no traceback and no ERROR line)')
        return
    counts = Counter(key(block) for block in blocks)
    shown: set[str] = set()
    for block in blocks:
        name = key(block)
        if name in shown or len(shown) == SHOWN:
            continue
        shown.add(name)
        print(f'--- {counts[name]}x: {name}')
        print(block[0])
        if len(block) > 1:
            if len(block) > FRAME_LINES + 1:
                print('    ...')
            print('\n'.join(block[1:][-FRAME_LINES:]))
    if len(counts) > SHOWN:
        print(f'--- and {len(counts) - SHOWN} more distinct errors')
    sys.exit(1)


if __name__ == '__main__':
    main()
