# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import api, models

from ..lib import frozen_settings


class Base(models.AbstractModel):
    """The frozen-settings guard, for every model: a model that is not in the
    list costs one cached lookup (~9 µs, bench/governance_guard.py). Applies
    to everyone, superuser included (the administrators are the ones who
    change settings); module installs and
    upgrades, governed by the module freeze, and raw SQL (the cron runner's
    ``nextcall``, the queue governor's leases) are not concerned."""

    _inherit = "base"

    def _peak_frozen_settings(self):
        """The frozen settings of this model, or () when none applies now."""
        if not self.pool.ready or "peak.frozen.setting" not in self.env:
            return ()  # loading modules: governed by the module freeze
        # Installs, upgrades and uninstalls all run while the registry loads
        # (not ready): no context flag, which any RPC caller could send.
        return self.env["peak.frozen.setting"]._frozen_map().get(self._name, ())

    def _peak_changed_fields(self, vals, frozen) -> set[str]:
        """The frozen fields of ``vals`` whose value differs on at least one
        record: writing a value back (a form saving it, ``ir.cron.toggle``)
        is no change."""
        if all(setting.fields for setting in frozen):
            names = vals.keys() & set().union(*(s.fields for s in frozen))
        else:
            names = vals.keys()
        changed = set()
        for name in names:
            value = vals[name]
            field = self._fields.get(name)
            if field is None or field.relational or not field.store:
                changed.add(name)
                continue
            try:
                new = field.convert_to_cache(value, self[:1])
            except Exception:  # invalid value: the write itself will say so
                changed.add(name)
                continue
            if any(field.convert_to_cache(rec[name], rec) != new for rec in self):
                changed.add(name)
        return changed

    def _peak_check_frozen(self, frozen, operation, vals=None):
        if operation == "create":
            changed = set(vals or ())
        else:
            changed = self._peak_changed_fields(vals, frozen) if vals else ()
        touched = frozen_settings.settings_touched(frozen, operation, changed)
        if not touched:
            return
        verb = {"create": "create", "write": "change", "unlink": "delete"}[operation]
        names = ", ".join(self.mapped("display_name")[:3]) if self else ""
        what = f"{verb} {self._description} {names}".strip()
        if changed:
            what += f" ({', '.join(sorted(changed))})"
        self.env["peak.change.freeze"]._check_settings(touched, what)

    @api.model_create_multi
    def create(self, vals_list):
        frozen = self._peak_frozen_settings()
        if frozen:
            self._peak_check_frozen(frozen, "create", self._peak_set_fields(vals_list))
        return super().create(vals_list)

    def _peak_set_fields(self, vals_list) -> dict:
        """The fields a create sets to something else than their default (a
        new channel with its own capacity changes what runs), as vals."""
        names = {name for vals in vals_list for name in vals}
        defaults = self.default_get(list(names & self._fields.keys()))
        return {
            name: value
            for vals in vals_list
            for name, value in vals.items()
            if value != defaults.get(name, False)
        }

    def write(self, vals):
        if self:
            frozen = self._peak_frozen_settings()
            if frozen:
                self._peak_check_frozen(frozen, "write", vals)
        return super().write(vals)

    def unlink(self):
        if self:
            frozen = self._peak_frozen_settings()
            if frozen:
                self._peak_check_frozen(frozen, "unlink")
        return super().unlink()
