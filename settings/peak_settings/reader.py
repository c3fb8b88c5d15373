"""The one settings reader: flag > env ``PEAK_*`` > Odoo config section > default.

Every Odoo Peak setting is found the same way, converted the same way and
refused with the same words, whoever reads it (the governor, its doctor and
drills, the addons inside Odoo)::

    env PEAK_S3_MAX_ATTEMPTS='three' is not an integer
    [peak_session_redis] socket_timeout='0' must be between 0.05 and 30
    flag --interval='fast' is not a number

An empty value is no value: ``""`` in a flag, a variable or a config key falls
through to the next source (a compose ``${VAR:-}`` or an empty ConfigMap key
means "not set", never "false" or "0").

Pure: standard library only, nothing read from ``os.environ`` unless given.
"""

import configparser
import dataclasses
import types
import typing

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")
_KIND_WORDS = {
    bool: "a boolean (true/false, 1/0, yes/no, on/off)",
    int: "an integer",
    float: "a number",
}


class SettingError(ValueError):
    """A setting has a value that cannot work; the message names its source."""


def refuse(source: str, raw, problem: str) -> SettingError:
    """The one error format: ``<source>=<value>: <problem>`` (as one line)."""
    return SettingError(f"{source}={raw!r} {problem}")


def is_empty(raw) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def resolve(
    *,
    flag: str = "",
    flag_value=None,
    environ=None,
    env: str = "",
    section=None,
    section_name: str = "",
    keys=(),
):
    """``(raw value, source)`` of the first non-empty source, or None.

    ``flag_value`` is what argparse gave for ``flag``; ``env`` the variable
    looked up in ``environ``; ``keys`` the keys tried, in order, in
    ``section`` (a mapping: the ``[section_name]`` of the Odoo config file)."""
    if flag and not is_empty(flag_value):
        return flag_value, f"flag {flag}"
    if env and environ is not None and not is_empty(environ.get(env)):
        return environ[env], f"env {env}"
    for key in keys:
        if section and not is_empty(section.get(key)):
            return section[key], f"[{section_name}] {key}" if section_name else key
    return None


def convert(raw, kind: type, source: str, *, low=None, high=None, choices=None):
    """``raw`` (text, or already ``kind``) as ``kind``, within bounds."""
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise refuse(source, raw, f"is not {_KIND_WORDS[bool]}")
    if isinstance(raw, kind) and not isinstance(raw, bool):
        value = raw
    else:
        try:
            value = kind(str(raw).strip())
        except ValueError:
            words = _KIND_WORDS.get(kind, f"a valid {kind.__name__}")
            raise refuse(source, raw, f"is not {words}") from None
    if choices is not None and value not in choices:
        raise refuse(source, raw, f"is not one of {', '.join(map(str, choices))}")
    if low is not None and high is not None and not low <= value <= high:
        raise refuse(source, raw, f"must be between {low:g} and {high:g}")
    if low is not None and value < low:
        raise refuse(source, raw, f"must be >= {low:g}")
    if high is not None and value > high:
        raise refuse(source, raw, f"must be <= {high:g}")
    return value


def get(kind: type, default=None, *, low=None, high=None, choices=None, **where):
    """The value of one setting: :func:`resolve` with ``where``, then
    :func:`convert`; ``default`` (not converted) when no source has it."""
    found = resolve(**where)
    if found is None:
        return default
    return convert(found[0], kind, found[1], low=low, high=high, choices=choices)


def read_options(table, args, environ, env_prefix: str) -> dict:
    """``{field: value}`` of a command's options, flag > env > unset, from a
    table of ``(flag, env suffix, field, type)`` and argparse's ``args``."""
    values = {}
    for flag, env, name, kind in table:
        value = get(
            kind,
            flag=flag,
            flag_value=getattr(args, name, None),
            environ=environ,
            env=env_prefix + env,
        )
        if value is not None:
            values[name] = value
    return values


def scalar_type(annotation) -> type | None:
    """bool/int/float/str of a field's type (``bool | None`` is bool)."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) in (
        typing.Union,
    ):
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = kinds[0] if len(kinds) == 1 else None
    return annotation if annotation in (bool, int, float, str) else None


def read_fields(
    cls,
    *,
    environ,
    env_prefix: str,
    section=None,
    section_name: str = "",
    keys=lambda name: (name,),
    bounds=None,
    skip=(),
) -> dict:
    """``{field: (value, source)}`` for each scalar field of dataclass ``cls``
    that some source sets: env ``<env_prefix><FIELD>``, then ``keys(field)``
    in ``section``. ``bounds``: ``{field: (low, high)}``, either may be None."""
    hints = typing.get_type_hints(cls)
    out = {}
    for field in dataclasses.fields(cls):
        kind = scalar_type(hints[field.name])
        if kind is None or field.name in skip:
            continue
        found = resolve(
            environ=environ,
            env=env_prefix + field.name.upper(),
            section=section,
            section_name=section_name,
            keys=keys(field.name),
        )
        if found is None:
            continue
        low, high = (bounds or {}).get(field.name, (None, None))
        value = convert(found[0], kind, found[1], low=low, high=high)
        out[field.name] = (value, found[1])
    return out


def read_odoo_conf(path: str) -> dict[str, dict[str, str]]:
    """Every section of an Odoo configuration file, as plain mappings."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        if not parser.read(path):
            raise SettingError(f"cannot read Odoo configuration file {path}")
    except configparser.Error as exc:
        raise SettingError(f"{path}: {exc}") from None
    return {name: dict(parser.items(name)) for name in parser.sections()}
