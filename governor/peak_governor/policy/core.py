"""The policy: one sample in, one decision out, by rules applied in order.

``Policy(config, rng).decide(...)`` applies, each cycle:

1. :mod:`.levels`: the level, from protected waits and conflicts, against
   the window's thresholds (protected inside a window, normal elsewhere);
2. :mod:`.demand` (and :mod:`.conflicts`): is this a wave or a lone wait;
3. :mod:`.blame`, else :mod:`.fallback`: which channels would free the
   waiters;
4. the precedence of what to do, first match wins:

   a. a window opens within the drain lead (:mod:`.drain`): drain, and act
      on contention as in (c);
   b. not acting: profile ``observe``, or Peak mode off and not severe:
      wind down what is held (:mod:`.resume`, ``peak_off``), else observe;
   c. contention (elevated or severe): renew what is held, lease what blame
      or the fallback names unless the gate calls it a lone wait, preempt
      (:mod:`.preemption`);
   d. calm with a reason to hold (:mod:`.episode`): hold;
   e. calm: resume (:mod:`.resume`).

Every lease goes through :mod:`.leases` (renewal, first reason, the
:mod:`.starvation` guard's trickle); :mod:`.evidence` says what each action
carries.  Pure: no I/O, no clock (``now`` is an argument), randomness only
from the injected :class:`random.Random`.
"""

import random

from ..model import CALM, SEVERE, Action, ChannelInfo, Decision, LeaseState, Sample
from . import blame as blaming
from . import drain as draining
from . import evidence
from .config import PolicyConfig
from .conflicts import Conflicts
from .demand import Demand
from .episode import Episode
from .fallback import Fallback
from .leases import Leases
from .levels import Level
from .preemption import Preemption
from .resume import Resume
from .starvation import Starvation
from .table import PROTECTED_RANK, Table


class Policy:
    def __init__(self, config: PolicyConfig, rng: random.Random):
        config.validate()
        self.config = config
        self.levels = Level(config.min_dwell_seconds)
        self.demand = Demand(config)
        self.episode = Episode(config, self.demand)
        self.fallback = Fallback(config.fallback_escalate_cycles)
        self.starvation = Starvation(config)
        self.leases = Leases(self.starvation)
        self.resume = Resume(config, rng, self.leases, self.episode)
        self.preemption = Preemption(config)
        self.conflicts = Conflicts()

    @property
    def level(self) -> str:
        return self.levels.current

    def decide(
        self,
        sample: Sample,
        channels: dict[str, ChannelInfo],
        held: dict[str, LeaseState],
        now: float,
        protected: bool,
        peak_mode: bool,
        next_window_at: float | None = None,
        job_p95_seconds: float | None = None,
    ) -> Decision:
        protected = bool(protected and peak_mode)
        thresholds = self.config.protected if protected else self.config.normal
        conflicts = self.conflicts.observe(sample, now, PROTECTED_RANK)
        waits = sorted(
            (
                w.wait_seconds
                for w in sample.waiters
                if w.backend.role_label in PROTECTED_RANK
            ),
            reverse=True,
        )
        previous = self.level
        # A conflict costs its request a retry's sleep: a waiter for the level
        # when a lower-class job may have caused it (:mod:`.conflicts`).
        self.levels.step(
            sorted(waits + conflicts.ages(), reverse=True), thresholds, now
        )
        self.starvation.account(held, now)
        self.leases.forget_released(held)
        relevant = [
            w
            for w in sample.waiters
            if w.backend.role_label in PROTECTED_RANK
            and w.wait_seconds >= thresholds.elevated_exit_age
        ]
        self.episode.see_window(protected, now)
        self.demand.track(sample, now, relevant, self.episode.held_since is not None)
        self.demand.open_for_conflicts(conflicts)
        table = Table(channels)
        blame = blaming.analyse(sample, table, relevant)
        blaming.add_conflicts(blame, table, conflicts)
        shared = evidence.build(
            sample, blame.roots, self.level, previous, thresholds, protected
        )
        shared["demand"] = dict(self.demand.view)
        shared["backoff"] = self.episode.evidence(now)
        shared["conflicts"] = conflicts.evidence()
        cycle = evidence.Cycle(sample, table, held, now, relevant, conflicts, shared)

        summary = (
            f"{len(waits)} protected waiter{'s' if len(waits) != 1 else ''}, "
            f"oldest {waits[0]:.1f} s"
            if waits
            else "no protected work waits on locks"
        )
        if conflicts.count:
            summary += ", " + conflicts.summary()
        head = self.level.capitalize()
        if previous != self.level:
            head += f" (was {previous})"

        acting = True
        observe = self.config.profile == "observe"
        drain = None
        if not observe:
            drain = draining.plan(self.config, now, next_window_at, job_p95_seconds)
        if drain:
            actions, what = self._act(cycle, blame)
            actions, what = draining.add(
                cycle, actions, what, drain, self.leases, self.episode
            )
        elif not observe and (peak_mode or self.level == SEVERE):
            hold = (
                self.episode.hold_reason(bool(held), now) if self.level == CALM else ""
            )
            if hold:
                actions, what = self._hold(cycle, hold)
            elif self.level == CALM:
                self.fallback.reset()
                actions, what = self.resume.step(cycle, "calm")
            else:
                actions, what = self._act(cycle, blame)
        elif held:
            self.fallback.reset()
            reason = "calm" if self.level == CALM else "peak_off"
            actions, what = self.resume.step(cycle, reason)
            why = "profile observe" if observe else "Peak mode off"
            what = f"winding down, {why}: {what}"
        else:
            self.fallback.reset()
            acting, actions = False, []
            why = "profile observe" if observe else "Peak mode off"
            what = f"observing only ({why})"
        return Decision(
            level=self.level,
            previous_level=previous,
            protected=protected if acting else False,
            acting=acting,
            actions=tuple(actions),
            explanation=f"{head}: {summary}; {what}.",
        )

    def _act(self, cycle: evidence.Cycle, blame) -> tuple[list[Action], str]:
        """Contention: renew what is held, lease what blame or the fallback
        names (unless it is a lone wait), preempt."""
        self.resume.cancel()
        actions = self.leases.drop_unleasable(cycle)
        lone = self.demand.lone_wait(self.level, cycle.relevant, cycle.conflicts)
        wanted_blame = blame.without_new_leases() if lone else blame
        fallback, cls = self.fallback.choose(cycle.table, wanted_blame.fallback_rank)
        # Evidence per channel: why it is (still) wanted this cycle.
        wanted: dict[str, dict] = {c: {} for c in cycle.held if cycle.table.leasable(c)}
        for channel in fallback:
            wanted.setdefault(channel, {}).update(
                fallback_class=cls, fallback_cycles=self.fallback.cycles
            )
        for channel, pids in wanted_blame.channels.items():
            wanted.setdefault(channel, {})["blame"] = pids
        new = sorted(c for c in wanted if c not in cycle.held)
        if new and not cycle.held:
            self.episode.start(cycle.now)
            # The leases carry the backoff they start (a successor reads it).
            cycle.evidence["backoff"] = self.episode.evidence(cycle.now)
        for channel in sorted(wanted, key=lambda c: (c in cycle.held, c)):
            extra = wanted[channel]
            # A held channel is renewed, whatever wants it now: a renewal is
            # routine, a new lease is news.
            if channel in cycle.held:
                actions.append(self.leases.keep(cycle, channel, "renew", extra))
            else:
                reason = "blame" if "blame" in extra else "fallback"
                actions.append(self.leases.new(cycle, channel, reason, extra))
        renewed = sum(
            1 for a in actions if a.kind == "lease" and a.channel in cycle.held
        )
        if new:
            what = f"leasing {', '.join(new)}"
            if renewed:
                what += f", renewing {renewed}"
        elif renewed:
            what = f"nothing new to lease, renewing {renewed} until calm"
        elif lone:
            what = lone
        elif blame.roots:
            what = "no lower-priority job to pause"
        else:
            what = "nothing to pause"
        if cls:
            what += f" (fallback class {cls}: blockers untagged or unresolved)"
        preempts = self.preemption.choose(cycle, blame)
        if preempts:
            actions.extend(preempts)
            what += ", preempting " + ", ".join(
                f"job {a.job_uuid} of {a.channel}" for a in preempts
            )
        return actions, what

    def _hold(self, cycle: evidence.Cycle, why: str) -> tuple[list[Action], str]:
        self.fallback.reset()
        self.resume.cancel()
        actions = self.leases.drop_unleasable(cycle)
        kept = sorted(c for c in cycle.held if cycle.table.leasable(c))
        for channel in kept:
            actions.append(self.leases.keep(cycle, channel, "hold", {"hold": why}))
        return actions, f"holding {', '.join(kept)}: {why}"
