"""Per-voter rate limit: at most N prompts in any rolling minute (the arena's only shared mutable counter)."""

from __future__ import annotations

import math
from collections import deque

WINDOW_S = 60.0


class RateLimiter:
    """Rolling-window limiter; single-threaded use (the arena's event loop)."""

    def __init__(self, per_minute: float) -> None:
        self.capacity = max(1, math.floor(per_minute))
        self._seen: dict[str, deque[float]] = {}

    def take(self, voter: str, now: float) -> float | None:
        """Count one prompt and return None, or refuse it and return the seconds until one is allowed."""
        window = self._seen.setdefault(voter, deque())
        while window and window[0] <= now - WINDOW_S:
            window.popleft()
        if len(window) >= self.capacity:
            return window[0] + WINDOW_S - now
        window.append(now)
        return None

    def prune(self, now: float) -> None:
        """Forget voters with no prompt in the window (keeps memory bounded by active voters)."""
        for voter in [v for v, w in self._seen.items() if not w or w[-1] <= now - WINDOW_S]:
            del self._seen[voter]
