"""A sweep as SDK v1 objects: HyperDriveConfig over training/search_space.py, optional Bandit early termination."""

from training.azure.errors import AzureError
from training.azure.sdk import require_sdk
from training.azure.spec import SweepSpec
from training.search_space import SearchSpace


def _hyperdrive():
    require_sdk("azureml.core")  # first: importing azureml.train.hyperdrive alone trips azureml's plugin loader
    return require_sdk("azureml.train.hyperdrive")


def build_sampling(space: SearchSpace, method: str):
    """``RandomParameterSampling`` or ``GridParameterSampling`` of ``{flag: choice(*values)}`` for every choice.

    Raises
    ------
    AzureError
        ``method`` is neither ``random`` nor ``grid``.
    """
    hd = _hyperdrive()
    samplers = {"random": hd.RandomParameterSampling, "grid": hd.GridParameterSampling}
    if method not in samplers:
        raise AzureError(f"Sampling {method!r} is not supported; expected one of {', '.join(samplers)}.")
    return samplers[method]({c.flag: hd.choice(*c.values) for c in space.choices})


def build_policy(sweep: SweepSpec):
    """None (the sample's default: no early termination) or a ``BanditPolicy`` with the spec's settings.

    Raises
    ------
    AzureError
        Unknown policy name.
    """
    if sweep.policy is None:
        return None
    if sweep.policy != "bandit":
        raise AzureError(f"Early-termination policy {sweep.policy!r} is not supported; expected 'bandit' or none.")
    return _hyperdrive().BanditPolicy(evaluation_interval=sweep.bandit_evaluation_interval,
                                      slack_factor=sweep.bandit_slack_factor,
                                      delay_evaluation=sweep.bandit_delay_evaluation)


def build_hyperdrive_config(sweep: SweepSpec, script_run_config):
    """``HyperDriveConfig`` running ``script_run_config`` over the sweep's space, metric, goal, sizes and policy.

    Raises
    ------
    AzureError
        Run counts below 1 or concurrency above the total (HyperDrive itself accepts them silently).
    """
    sweep.check_sizes()
    hd = _hyperdrive()
    goal = {"maximize": hd.PrimaryMetricGoal.MAXIMIZE, "minimize": hd.PrimaryMetricGoal.MINIMIZE}[sweep.space.goal]
    # Arguments also swept would be dropped by HyperDrive at submission with a warning; leave them out up front.
    swept = {c.flag for c in sweep.space.choices}
    fixed, args = [], list(script_run_config.arguments)
    while args:
        flag = args.pop(0)
        value = args.pop(0) if args and not str(args[0]).startswith("--") else None
        if flag not in swept:
            fixed += [flag] if value is None else [flag, value]
    script_run_config.arguments = fixed
    return hd.HyperDriveConfig(
        run_config=script_run_config,
        hyperparameter_sampling=build_sampling(sweep.space, sweep.sampling),
        primary_metric_name=sweep.space.primary_metric,
        primary_metric_goal=goal,
        max_total_runs=sweep.max_total_runs,
        max_concurrent_runs=sweep.max_concurrent_runs,
        policy=build_policy(sweep),
    )


def describe_sweep(sweep: SweepSpec, config) -> str:
    """The HyperDrive settings ``--dry-run`` prints (from the built config, not from the spec)."""
    # HyperDriveConfig has no public getters; these private fields are what it sends to the service.
    space = {flag: expression for flag, expression in config._generator_config["parameter_space"].items()}
    return "\n".join([
        f"sampling: {config._generator_config['name']} over {space}",
        f"primary metric: {config._primary_metric_config['name']} ({config._primary_metric_config['goal']})",
        f"max total runs: {config._max_total_runs}, max concurrent runs: {config._max_concurrent_runs}",
        f"early termination: {config._policy_config}",
    ])
