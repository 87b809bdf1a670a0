"""The hyperparameter search space of the iris sweep: one definition read by HyperDrive and by the local sweep.

The space is the one of Microsoft's train-hyperparameter-tune-deploy-with-sklearn notebook: ``--kernel`` in linear,
rbf, poly, sigmoid and ``--penalty`` in 0.5, 1, 1.5 (12 combinations), sampled at random, primary metric ``Accuracy``
maximised. Only discrete choices are supported: the sample needs nothing else, and a finite space lets the local
sweep draw configurations without repeats (a seeded permutation of the grid).
"""

import itertools
import random
from dataclasses import dataclass

SAMPLING_METHODS = ("random", "grid")


@dataclass(frozen=True)
class Choice:
    """A discrete hyperparameter: the train.py flag it is passed with and the values it takes, in order."""

    flag: str
    values: tuple


@dataclass(frozen=True)
class SearchSpace:
    """A product of discrete choices plus the metric that ranks the trials."""

    choices: tuple[Choice, ...]
    primary_metric: str = "Accuracy"
    goal: str = "maximize"

    @property
    def size(self) -> int:
        """Number of distinct configurations (the product of the choice sizes)."""
        size = 1
        for choice in self.choices:
            size *= len(choice.values)
        return size

    def grid(self) -> list[dict[str, object]]:
        """Every configuration as ``{flag: value}``, first choice varying slowest (itertools.product order)."""
        flags = [choice.flag for choice in self.choices]
        return [dict(zip(flags, combo, strict=True)) for combo in itertools.product(*(c.values for c in self.choices))]

    def sample(self, method: str, max_runs: int, seed: int = 0) -> list[dict[str, object]]:
        """The configurations a sweep of ``max_runs`` trials runs, in order.

        ``grid`` takes the grid in order; ``random`` takes a seeded permutation of it (no configuration twice).
        Both stop after ``max_runs`` trials or when the space is exhausted, whichever comes first.

        Raises
        ------
        ValueError
            Unknown ``method`` or ``max_runs`` < 1.
        """
        if method not in SAMPLING_METHODS:
            raise ValueError(f"Sampling method {method!r} is not supported; expected one of "
                             f"{', '.join(SAMPLING_METHODS)}.")
        if max_runs < 1:
            raise ValueError(f"max_runs is {max_runs}, while a sweep needs at least 1 run.")
        configs = self.grid()
        if method == "random":
            random.Random(seed).shuffle(configs)
        return configs[:max_runs]


def to_arguments(config: dict[str, object]) -> list[str]:
    """train.py command-line arguments for one configuration, e.g. ``['--kernel', 'rbf', '--penalty', '1']``."""
    arguments: list[str] = []
    for flag, value in config.items():
        arguments += [flag, str(value)]
    return arguments


IRIS_SPACE = SearchSpace(
    choices=(
        Choice("--kernel", ("linear", "rbf", "poly", "sigmoid")),
        Choice("--penalty", (0.5, 1, 1.5)),
    ),
)
