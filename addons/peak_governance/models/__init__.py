# The mixin first: models below inherit from it (Odoo needs it defined).
from . import peak_approval_mixin

# isort: split
from . import (
    base,
    ir_module_module,
    peak_access_grant,
    peak_access_grant_digest,
    peak_access_grant_log,
    peak_access_grant_run,
    peak_change_exception,
    peak_change_exception_log,
    peak_change_freeze,
    peak_frozen_setting,
    peak_period,
    peak_sync_window_export,
    res_config_settings,
    res_users_apikeys,
)
