from . import (
    ir_module_module,
    peak_change_exception,
    peak_change_exception_log,
    peak_change_freeze,
    res_config_settings,
)
