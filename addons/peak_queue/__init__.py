from . import controllers
from . import models
from .jobrunner_patch import post_load
