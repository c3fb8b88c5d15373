from . import peak_audit_log_mixin, peak_schedule_mixin
from . import (
    peak_fulfillment_window,
    peak_mode,
    peak_mode_log,
    peak_period,
    peak_readiness_report,
    res_config_settings,
)
