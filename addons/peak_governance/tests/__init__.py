from . import test_exception, test_freeze, test_rpc
from . import test_sync_windows
from . import test_access_grant, test_access_grant_digest, test_tour
from . import test_access_grant_security
from . import test_settings_freeze
