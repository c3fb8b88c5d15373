from . import (
    ir_cron,
    ir_http,
    peak_housekeeping,
    peak_queue_function_rule,
    peak_queue_lease,
    peak_queue_lease_event,
    queue_job_channel,
    queue_job_function,
)
