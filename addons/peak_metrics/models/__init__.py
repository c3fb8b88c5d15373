from . import queue_job
from . import res_config_settings
