from . import test_lease_contract
from . import test_housekeeping
from . import test_attribution
from . import test_db_contract
from . import test_governor_status
from . import test_preemption
from . import test_access
