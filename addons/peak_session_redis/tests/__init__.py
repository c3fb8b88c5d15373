from . import test_config
from . import test_store
from . import test_session_http
from . import test_websocket
