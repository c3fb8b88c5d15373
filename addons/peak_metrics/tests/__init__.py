from . import test_governance
from . import test_kpis
from . import test_settings
