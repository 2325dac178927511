"""Hydra overrides as a person types them, checked before Hydra acts on them.

Three jobs, each one line on failure (:class:`InvalidValue`):

- :func:`split_overrides`: one string of overrides (``mlflow run -P overrides=...``) into overrides,
  split at spaces as a shell would, except inside brackets and braces (``losses=[bce, brier]``).
- :func:`refuse_code`: nothing a user passes may make Hydra instantiate code (``_target_`` and the
  other ``_..._`` keys, ``hydra.callbacks``, logging configs, search paths, ``hydra.job.env_set``);
  under ``hydra`` only the launcher, the sweeper and the output folders may be set.
- :func:`check_composes`: mistakes in Hydra's own grammar (an unknown grid, a misspelled key) get the
  project's one line, with the options or the nearest key, instead of Hydra's dozen lines.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from ..core.checks import InvalidValue

MULTIRUN_FLAGS = ("-m", "--multirun")
# Under `hydra`, what a user may set: which launcher and sweeper (a config group's option, checked
# against those installed), their settings, and Hydra's output folders (see conf/outputs/).
# (Hydra's ray_aws launcher is left out: its settings run shell commands on the machines it starts.)
HYDRA_GROUPS = {"hydra/launcher": ("basic", "joblib", "ray"), "hydra/sweeper": ("basic",)}
HYDRA_KEY_PREFIXES = ("hydra.launcher.",)
# The basic sweeper's one setting a user may change; its `params` (sweeps written into the config)
# are refused: a sweep is given on the command line, `-m seed=0,1`.
HYDRA_SWEEPER_KEYS = ("hydra.sweeper.max_batch_size",)
# Keys that `+` may add: the Ray launcher passes these mappings to ray.init and ray.remote as keyword
# arguments, whatever they hold. Anywhere else `+key=value` must name a key the config has.
ADDABLE_PREFIXES = ("hydra.launcher.ray.init.", "hydra.launcher.ray.remote.")
# Ray is an extra: without it Hydra knows no ray launcher (its plugin brings the config)
RAY_NOT_INSTALLED = (
    "hydra/launcher=ray needs the ray extra, which is not installed: "
    "pip install -c constraints.txt -e '.[ray]' (from the repository's root)"
)
HYDRA_KEYS = (
    "hydra.run.dir",
    "hydra.sweep.dir",
    "hydra.sweep.subdir",
    "hydra.output_subdir",
    "hydra.job.chdir",
    *HYDRA_SWEEPER_KEYS,
)
# Keys that make Hydra or a library call code: instantiate's special keys, logging's factory key, and
# Ray's runtime_env (which installs packages and runs setup hooks).
_SPECIAL_KEY = re.compile(r"^_[A-Za-z]+_$")
_CODE_KEYS = ("()", "runtime_env")
_OPENING, _CLOSING = "[{(", "]})"


def split_overrides(text: str) -> list[str]:
    """Split ``text`` at whitespace outside quotes and brackets; quotes outside brackets are removed
    (as a shell would), quotes inside brackets are kept for Hydra (``models=['my file.csv']``)."""
    words: list[str] = []
    word, depth, quote, started = [], 0, "", False
    for char in text:
        if quote:
            if char == quote:
                quote = ""
                if depth:
                    word.append(char)
            else:
                word.append(char)
        elif char in "'\"":
            quote, started = char, True
            if depth:
                word.append(char)
        elif char.isspace() and depth == 0:
            if word or started:
                words.append("".join(word))
            word, started = [], False
        else:
            if char in _OPENING:
                depth += 1
            elif char in _CLOSING and depth:
                depth -= 1
            word.append(char)
            started = True
    if quote:
        raise InvalidValue(f"overrides={text!r} has an unclosed {quote} quote")
    if word or started:
        words.append("".join(word))
    return words


# Hydra's own command-line flags a person may use at a shell (help, printing the config); those that
# load other configs or a pickled job (--config-dir, --experimental-rerun, ...) are refused.
SAFE_FLAGS_WITH_VALUE = ("-c", "--cfg", "-p", "--package", "-i", "--info")
SAFE_FLAGS = (*MULTIRUN_FLAGS, "-h", "--help", "--hydra-help", "--resolve", "--version")


def without_safe_flags(argv: Sequence[str]) -> list[str]:
    """``argv`` less Hydra's harmless flags (and their values): what is left must be overrides."""
    left, skip_value = [], False
    for arg in argv:
        if skip_value and not arg.startswith("-") and "=" not in arg:
            skip_value = False
            continue
        skip_value = arg in SAFE_FLAGS_WITH_VALUE
        if arg in SAFE_FLAGS or skip_value:
            continue
        left.append(arg)
    return left


def _parsed(overrides: Sequence[str]) -> list[Any]:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    parsed = []
    for text in overrides:
        try:
            parsed.extend(parser.parse_overrides([text]))
        except OverrideParseException as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else "not key=value"
            raise InvalidValue(f"override {text!r} is not a Hydra override: {reason}") from None
    return parsed


# A multirun's swept keys, for its jobs (in this process or a launcher's workers) to name their sweeps.
SWEPT_KEYS_ENV = "IMBALANCE_SWEEP_SWEPT_KEYS"
# Keys a job's default sweep name leaves out: those every shard of one sweep shares or that say where
# it goes (the grid's name comes first anyway).
UNNAMED_KEYS = frozenset(
    {
        "grid",
        "shard.index",
        "shard.count",
        "sweep_name",
        "tracking_uri",
        "experiment",
        "outputs",
        "dry_run",
        "resume",
    }
)


def swept_keys(overrides: Sequence[str]) -> list[str]:
    """The keys a multirun's overrides sweep over (``seed=0,1``, ``range(3)``, ...), Hydra's own aside."""
    return [
        override.get_key_element().lstrip("+~")
        for override in _parsed(overrides)
        if override.is_sweep_override() and not override.is_hydra_override()
    ]


def job_label(task_overrides: Sequence[str], swept: Iterable[str]) -> str:
    """What tells a multirun's job from its siblings: its own values of the swept keys (``seed=1``),
    in the order given, without the keys of UNNAMED_KEYS."""
    named = set(swept) - UNNAMED_KEYS
    return " ".join(
        text
        for text, override in zip(task_overrides, _parsed(task_overrides), strict=True)
        if override.get_key_element().lstrip("+~") in named
    )


def _keys_within(value: Any) -> Iterable[str]:
    """Every mapping key inside an override's value (lists and mappings, any depth)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _keys_within(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _keys_within(item)


def _runs_code(key: str) -> bool:
    return any(_SPECIAL_KEY.match(part) or part in _CODE_KEYS for part in re.split(r"[./@]", key))


def refuse_code(overrides: Sequence[str], *, interpolations: bool = True) -> None:
    """Refuse, with one line, any override that could make Hydra instantiate or run code.

    ``interpolations=False`` also refuses ``${...}`` (values passed through ``mlflow run``: an
    interpolation such as ``${oc.env:SECRET}`` would copy the environment into logged params).
    """
    for text in overrides:
        if text.startswith("-"):
            if text in MULTIRUN_FLAGS:
                continue
            raise InvalidValue(
                f"override {text!r} is not allowed: only key=value overrides and -m/--multirun are"
            )
        if not interpolations and "${" in text:
            raise InvalidValue(f"override {text!r} is not allowed: no ${{...}} interpolations here")
        (override,) = _parsed([text])
        key = override.key_or_group
        if override.package:
            key = f"{key}@{override.package}"
        value = None if override.is_delete() else override.value()
        if _runs_code(key) or any(_runs_code(inner) for inner in _keys_within(value)):
            raise InvalidValue(f"override {text!r} is not allowed: it would make Hydra instantiate code")
        if key == "hydra.sweeper.params" or key.startswith("hydra.sweeper.params."):
            raise InvalidValue(
                f"override {text!r} is not allowed: give the values to sweep on the command line, "
                "e.g. -m seed=0,1"
            )
        if key == "hydra" or key.startswith(("hydra.", "hydra/")):
            allowed = key in HYDRA_GROUPS or key in HYDRA_KEYS or key.startswith(HYDRA_KEY_PREFIXES)
            if not allowed or override.package:
                raise InvalidValue(
                    f"override {text!r} is not allowed: under hydra only {', '.join(HYDRA_GROUPS)}, "
                    f"{', '.join(prefix + '*' for prefix in HYDRA_KEY_PREFIXES)} and {', '.join(HYDRA_KEYS)} "
                    "can be set"
                )
            options = HYDRA_GROUPS.get(key, ())
            if options and value not in options:
                raise InvalidValue(f"override {text!r} is not allowed: {key} is one of: {', '.join(options)}")


def _representative(override: Any) -> str | None:
    """One job's form of an override: a sweep (``seed=0,1``) by its first value; None for a glob."""
    if not override.is_sweep_override():
        return override.input_line
    if override.value_type.name == "GLOB_CHOICE_SWEEP":
        return None
    first = next(iter(override.sweep_string_iterator()), None)
    return None if first is None else f"{override.get_key_element()}={first}"


def _dotted_keys(config: Any, prefix: str = "") -> list[str]:
    keys = []
    if isinstance(config, Mapping):
        for key, value in config.items():
            dotted = f"{prefix}{key}"
            keys.append(dotted)
            keys.extend(_dotted_keys(value, dotted + "."))
    return keys


def _nearest(word: str, choices: Iterable[str]) -> str:
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {found[0]}?)" if found else ""


def check_composes(config_dir: str, config_name: str, overrides: Sequence[str]) -> None:
    """Compose the config as one job of these overrides would, and turn Hydra's composition errors
    into one line: an unknown option of a config group (which exist), an unknown key (the nearest),
    a key added with ``+`` that the config does not have, an interpolation that cannot resolve."""
    from hydra import initialize_config_dir

    parsed = _parsed([text for text in overrides if text not in MULTIRUN_FLAGS])
    jobs = [(override, _representative(override)) for override in parsed]
    job = [line for _, line in jobs if line is not None]
    with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
        config = _composed(config_name, job)
        added = [override.key_or_group for override, line in jobs if line is not None and _adds(override)]
        if added:
            kept = [line for override, line in jobs if line is not None and not _adds(override)]
            base = _composed(config_name, kept)
            for key in added:
                if _absent(base, key):
                    raise _not_a_key(key, config_name)
        _check_resolves(config)


def _adds(override: Any) -> bool:
    """``+key=value`` or ``++key=value`` outside the mappings the Ray launcher passes on as they are."""
    return (override.is_add() or override.is_force_add()) and not str(override.key_or_group).startswith(
        ADDABLE_PREFIXES
    )


_ABSENT = object()


def _absent(config: Any, key: str) -> bool:
    """Whether the composed ``config`` has no ``key`` (a key set to null is there)."""
    from omegaconf import OmegaConf

    return OmegaConf.select(config, key, default=_ABSENT, throw_on_resolution_failure=False) is _ABSENT


def _composed(config_name: str, job: Sequence[str]) -> Any:
    """The config one job of ``job`` composes, with its hydra section; Hydra's errors as one line."""
    from hydra import compose
    from hydra.errors import ConfigCompositionException, HydraException, MissingConfigException
    from omegaconf.errors import OmegaConfBaseException

    try:
        return compose(config_name=config_name, overrides=list(job), return_hydra_config=True)
    except MissingConfigException as error:
        missing = error.missing_cfg_file or ""
        group, _, option = missing.rpartition("/")
        if (group, option) == ("hydra/launcher", "ray"):
            raise InvalidValue(RAY_NOT_INSTALLED) from None
        options = list(HYDRA_GROUPS.get(group, ())) or sorted(error.options or [])
        if group and options:
            raise InvalidValue(
                f"{group}={option!r} is not one of: {', '.join(options)}{_nearest(option, options)}"
            ) from None
        raise InvalidValue(_first_line(error)) from None
    except (ConfigCompositionException, OmegaConfBaseException, ValueError) as error:
        message = _first_line(error)
        unknown = re.search(r"Could not override '([^']+)'|Key '([^']+)' is not in struct", message)
        if unknown is None:
            cause = error.__cause__
            raise InvalidValue(f"{message}: {_first_line(cause)}" if cause else message) from None
        # a mapping's value with a key the config does not have names it in its cause (focal.x)
        inner = getattr(error.__cause__, "full_key", None)
        raise _not_a_key(inner or unknown.group(1) or unknown.group(2), config_name) from None
    except (HydraException, AttributeError, KeyError, TypeError) as error:
        raise InvalidValue(f"the overrides {' '.join(job)} do not compose: {_first_line(error)}") from None


def _not_a_key(key: str, config_name: str) -> InvalidValue:
    """``key`` is not in the config: the nearest key, and the keys beside it."""
    from hydra import compose
    from omegaconf import OmegaConf

    # a composed config is a DictConfig: its container is a dict with string keys
    base = cast(
        "dict[str, Any]",
        OmegaConf.to_container(compose(config_name=config_name, return_hydra_config=True), resolve=False),
    )
    if not key.startswith("hydra."):
        base.pop("hydra", None)
    parent, _, _ = key.rpartition(".")
    siblings = OmegaConf.select(OmegaConf.create(base), parent) if parent else base
    where = f"{parent}'s keys" if parent else "the keys"
    listed = f"; {where} are: {', '.join(sorted(siblings))}" if isinstance(siblings, Mapping) else ""
    return InvalidValue(f"{key} is not a config key{_nearest(key, _dotted_keys(base))}{listed}")


# Hydra's settings a user may set, resolved at composition as the job would; the job number (in
# hydra.sweep.subdir) is known only when the job runs.
_RESOLVED_HYDRA_KEYS = (*HYDRA_KEYS, "hydra.launcher", "hydra.sweeper")


def _check_resolves(config: Any) -> None:
    """Resolve every ``${...}`` of the composed config, as the job would; one that cannot resolve is
    one line naming its key, its value and why (an unset variable, a missing key, a loop)."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf
    from omegaconf.errors import (
        InterpolationToMissingValueError,
        MissingMandatoryValue,
        OmegaConfBaseException,
    )

    hydra_config = HydraConfig.instance()
    previous = hydra_config.cfg
    hydra_config.set_config(config)  # ${hydra:...} resolves as in the job
    try:
        for key in [*(key for key in config if key != "hydra"), *_RESOLVED_HYDRA_KEYS]:
            try:
                value = OmegaConf.select(config, str(key), throw_on_missing=True)
                if OmegaConf.is_config(value):
                    OmegaConf.to_container(value, resolve=True, throw_on_missing=True)
            except OmegaConfBaseException as error:
                runtime = (InterpolationToMissingValueError, MissingMandatoryValue)
                if isinstance(error, runtime) and str(key).startswith("hydra."):
                    continue  # hydra.job.num and the like, set when the job runs
                where = error.full_key or str(key)
                raw = _unresolved(config, where)
                shown = f"{where}={raw!r}" if isinstance(raw, str) else where
                reason = re.sub(r"^\w+ raised while resolving interpolation: ", "", _first_line(error))
                raise InvalidValue(f"{shown} cannot be resolved: {reason.strip(chr(34))}") from None
    finally:
        hydra_config.cfg = previous


def _unresolved(config: Any, full_key: str) -> Any:
    """The value at ``full_key`` (``grid.seeds[1]``) as written, interpolations unresolved."""
    from omegaconf import OmegaConf

    value: Any = OmegaConf.to_container(config, resolve=False)
    for index, name in re.findall(r"\[(\d+)\]|([^.\[\]]+)", full_key):
        try:
            value = value[int(index)] if index else value[name]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
