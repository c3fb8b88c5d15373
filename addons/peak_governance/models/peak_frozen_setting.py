# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import _, api, fields, models, tools
from odoo.exceptions import ValidationError

from ..lib import frozen_settings

# Models whose writes keep Odoo and the suite running, or the freeze itself
# reachable: freezing them could lock the freeze in (no exception could be
# asked for) or stop the grants cron. Modules have their own freeze.
UNFREEZABLE = frozenset(
    {"res.users", "res.groups", "ir.module.module", "ir.config_parameter"}
)


def _split(names) -> frozenset[str]:
    return frozenset(n.strip() for n in (names or "").split(",") if n.strip())


class PeakFrozenSetting(models.Model):
    """A setting frozen with the modules during a change freeze: chosen fields
    of a model (e.g. the schedule of ``ir.cron``), or its whole records.

    The guard is in ``models/base.py``; this model keeps the list, and refuses
    to shrink it during a freeze (that would lift the freeze by the back door).
    """

    _name = "peak.frozen.setting"
    _description = "Setting frozen during peak periods"
    _order = "name, id"

    name = fields.Char("Setting", required=True, translate=True)
    model_name = fields.Char(
        "Model", required=True, help="Technical name, e.g. ir.cron."
    )
    field_names = fields.Char(
        "Fields",
        help="Comma-separated technical names, e.g. interval_number,interval_type. "
        "Empty: the whole record, creating and deleting it included.",
    )
    active = fields.Boolean(default=True)
    model_installed = fields.Boolean(
        compute="_compute_model_installed",
        help="A setting whose model is not installed (e.g. queue_job's channels "
        "without queue_job) is ignored.",
    )

    @api.depends("model_name")
    def _compute_model_installed(self):
        for setting in self:
            setting.model_installed = setting.model_name in self.env

    def _to_rule(self) -> frozen_settings.FrozenSetting:
        self.ensure_one()
        return frozen_settings.FrozenSetting(
            self.id, self.name, self.model_name, _split(self.field_names)
        )

    @api.model
    @tools.ormcache()
    def _frozen_map(self) -> dict:
        """{model: (FrozenSetting, ...)} of the active settings whose model is
        installed; cleared whenever the list changes."""
        result = {}
        for setting in self.sudo().with_context(active_test=True).search([]):
            if setting.model_name in self.env:
                result.setdefault(setting.model_name, []).append(setting._to_rule())
        return {model: tuple(rules) for model, rules in result.items()}

    @api.constrains("model_name", "field_names")
    def _check_fields(self):
        for setting in self:
            name = setting.model_name
            if name in UNFREEZABLE or name.startswith("peak."):
                raise ValidationError(
                    _(
                        "%(model)s cannot be frozen: Odoo, the change freeze or "
                        "the access grants write it as they run.",
                        model=name,
                    )
                )
            if name not in self.env:
                continue  # e.g. queue_job not installed: checked once it is
            model = self.env[name]
            if model._transient or model._abstract:
                raise ValidationError(
                    _("%(model)s holds no settings: it stores nothing.", model=name)
                )
            unknown = sorted(_split(setting.field_names) - set(model._fields))
            if unknown:
                raise ValidationError(
                    _(
                        "Frozen setting “%(name)s”: %(model)s has no field "
                        "%(fields)s.",
                        name=setting.name,
                        model=setting.model_name,
                        fields=", ".join(unknown),
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        # Adding to the list is always allowed, even during a freeze.
        records = super().create(vals_list)
        self.env.registry.clear_cache()
        return records

    def write(self, vals):
        self._check_shrink(vals)
        res = super().write(vals)
        self.env.registry.clear_cache()
        return res

    def unlink(self):
        self._check_shrink(None)
        res = super().unlink()
        self.env.registry.clear_cache()
        return res

    def _shrunk(self, vals) -> "PeakFrozenSetting":
        """The active settings that ``vals`` (None: deletion) would loosen."""
        if vals is None:
            return self.filtered("active")
        shrunk = self.browse()
        for setting in self.filtered("active"):
            old = _split(setting.field_names)
            new = _split(vals.get("field_names", setting.field_names))
            if (
                ("active" in vals and not vals["active"])
                or vals.get("model_name", setting.model_name) != setting.model_name
                # Empty means the whole record: any list of fields is less.
                or (not old and new)
                or (old and new and not old <= new)
            ):
                shrunk |= setting
        return shrunk

    def _check_shrink(self, vals):
        """During a freeze the list only grows, unless an approved exception
        names the setting being loosened."""
        if not self.pool.ready:
            return
        shrunk = self._shrunk(vals)
        if shrunk:
            what = _("delete") if vals is None else _("loosen")
            self.env["peak.change.freeze"]._check_settings(
                [s._to_rule() for s in shrunk],
                _("%(what)s the frozen setting", what=what),
            )
