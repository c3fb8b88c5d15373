from . import models
from . import wizard
from .hooks import post_load
