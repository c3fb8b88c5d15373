from . import ir_cron
from . import ir_http
from . import peak_housekeeping
from . import peak_queue_function_rule
from . import peak_queue_lease
from . import peak_queue_lease_event
from . import queue_job_channel
from . import queue_job_function
