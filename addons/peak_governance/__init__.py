from . import models
from . import wizard
from . import cli
from . import controllers
from .hooks import post_load
