"""Odoo Peak's settings, shared by the addons and peak-governor (pure)."""

from .reader import (
    SettingError,
    convert,
    get,
    is_empty,
    read_fields,
    read_odoo_conf,
    read_options,
    refuse,
    resolve,
)
