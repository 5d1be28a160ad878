"""`TrialProgress`: the trials of a study done, with the best value so far, on stderr."""

from __future__ import annotations

from typing import Any


class TrialProgress:
    """The trials of a study done (of `n_trials`) with the best value so far, on stderr (see `Progress`).

    Called with the study (as an Optuna callback, or by a poll), it reports every trial finished since the last
    call, whichever worker ran it.
    """

    def __init__(self, study: Any, n_trials: int | None, enabled: bool) -> None:
        from lrrec.runners.train import Progress

        finished = _finished(study)
        self.seen = {t.number for t in finished}
        self.maximize = study.direction.name == "MAXIMIZE"
        self.best: Any = None
        for trial in finished:
            self._compare(trial)
        self.bar = Progress("tune", n_trials, "trial", enabled, initial=len(finished))

    def __call__(self, study: Any, trial: Any = None) -> None:
        for done in _finished(study):
            if done.number not in self.seen:
                self.seen.add(done.number)
                self._compare(done)
                value = f" {done.value:.4g}" if done.state.name == "COMPLETE" else ""
                best = f"; best {self.best.value:.4g} (#{self.best.number})" if self.best else ""
                self.bar.update(f"#{done.number} {done.state.name.lower()}{value}{best}")

    def _compare(self, trial: Any) -> None:
        if trial.state.name == "COMPLETE" and (self.best is None or (
                trial.value > self.best.value if self.maximize else trial.value < self.best.value)):
            self.best = trial


def _finished(study: Any) -> list[Any]:
    """The study's finished trials (complete, pruned, failed) in the order they finished."""
    trials = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    return sorted(trials, key=lambda t: (t.datetime_complete, t.number))
