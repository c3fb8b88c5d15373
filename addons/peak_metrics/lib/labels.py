# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Keep label values bounded: channel names come from code and config, but a
typo in ``with_delay(channel=...)`` must not create series without end."""

import threading

MAX_CHANNELS = 64
OTHER = "other"
_seen: set = set()
_lock = threading.Lock()


def bounded_channel(name: str) -> str:
    """The channel name while fewer than MAX_CHANNELS were seen, else 'other'."""
    if name in _seen:
        return name
    with _lock:
        if len(_seen) < MAX_CHANNELS:
            _seen.add(name)
            return name
    return OTHER
