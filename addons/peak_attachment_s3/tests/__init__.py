from . import test_storage
from . import test_gc
from . import test_outage
from . import test_migration
from . import test_bad_config
from . import test_http
from . import test_collision
from . import test_config
