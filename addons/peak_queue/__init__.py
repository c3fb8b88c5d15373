from . import controllers, models
from .jobrunner_patch import post_load
