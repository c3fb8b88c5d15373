"""Rule: resume, releasing what is held once contention and demand are gone.

Once calm (after the dwell) and no hold applies (:mod:`.episode`), held
channels are released all at once (``resume_step_seconds`` = 0, the default)
or one at a time, most important class first (operational, background,
bulk), the first at once, the next ``resume_step_seconds`` later
± ``resume_jitter`` (drawn from the injected Random), the others renewed
meanwhile.  Contention coming back cancels the resume.  Leases still held
when acting stops (Peak mode off, profile ``observe``) are wound down the
same way, reason ``peak_off``.
"""

import random

from ..model import Action
from .config import PolicyConfig
from .episode import Episode
from .evidence import Cycle
from .leases import Leases


class Resume:
    def __init__(
        self, config: PolicyConfig, rng: random.Random, leases: Leases, episode: Episode
    ):
        self.config = config
        self._rng = rng
        self.leases = leases
        self.episode = episode
        self.next_release_at: float | None = None
        self.releasing: set[str] = set()

    def cancel(self) -> None:
        self.next_release_at = None
        self.releasing.clear()

    def step(self, cycle: Cycle, reason: str) -> tuple[list[Action], str]:
        actions = self.leases.drop_unleasable(cycle)
        held = cycle.held
        # A release the actuator did not apply yet is simply asked again.
        self.releasing &= set(held)
        for channel in sorted(self.releasing):
            actions.append(self.leases.release(cycle, channel, reason))
        pending = [
            c for c in held if c not in self.releasing and cycle.table.leasable(c)
        ]
        if not pending:
            self.next_release_at = None
            return actions, "nothing leased" if not actions else "releasing"
        if self.next_release_at is None:
            self.next_release_at = cycle.now  # the dwell already waited
        by_class = sorted(pending, key=lambda c: (cycle.table.rank(c), c))
        step = self.config.resume_step_seconds
        if step == 0:  # the default: everything at once
            for channel in by_class:
                self.releasing.add(channel)
                actions.append(self.leases.release(cycle, channel, reason))
            self.next_release_at = None
            self.episode.end(cycle.now)
            return actions, f"released {', '.join(sorted(pending))} at once"
        released = ""
        if cycle.now >= self.next_release_at:
            released = by_class[0]
            pending.remove(released)
            self.releasing.add(released)
            actions.append(self.leases.release(cycle, released, reason))
            jitter = self.config.resume_jitter * self._rng.uniform(-1.0, 1.0)
            self.next_release_at = (
                cycle.now + step * (1.0 + jitter) if pending else None
            )
        for channel in sorted(pending):
            actions.append(self.leases.keep(cycle, channel, "renew"))
        if not pending:
            self.episode.end(cycle.now)
        what = f"released {released}, " if released else "resuming, "
        if pending:
            wait = max(0.0, self.next_release_at - cycle.now)
            what += f"{len(pending)} still leased, next release in {wait:.0f} s"
        else:
            what += "all released"
        return actions, what
