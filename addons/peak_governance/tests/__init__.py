from . import test_exception, test_freeze, test_rpc
