from . import ir_attachment
from . import ir_attachment_gc
from . import ir_attachment_migration
from . import ir_attachment_ownership
from . import res_config_settings
