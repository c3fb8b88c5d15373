from . import ir_attachment
from . import res_config_settings
