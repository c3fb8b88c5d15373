from . import base_module_upgrade
