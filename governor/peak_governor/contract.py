"""The governor's side of the DB contract (docs/db-contract.md, version 1).

Every statement the governor sends to the lease tables lives here, so that one
test can hold them against the contract document.
"""

CONTRACT_VERSION = 1
LEASE_NOTIFY_CHANNEL = "peak_queue_lease"

CONTRACT_VERSION_SQL = "SELECT peak_queue_contract_version()"
ACQUIRE_SQL = (
    "SELECT lease_id, lease_expires_at, renewed "
    "FROM peak_queue_lease_acquire(%s, %s, %s, %s::jsonb, %s, %s)"
)
RELEASE_SQL = "SELECT peak_queue_lease_release(%s, %s, %s)"
EXPIRE_SQL = "SELECT peak_queue_lease_expire()"
ACTIVE_LEASES_SQL = (
    "SELECT channel, remaining_seconds, trickle FROM peak_queue_active_leases()"
)
HEARTBEAT_SQL = (
    "SELECT is_leader, leader, leader_expires_at "
    "FROM peak_queue_governor_heartbeat(%s, %s)"
)
RESIGN_SQL = "SELECT peak_queue_governor_resign(%s)"
PROTECTED_INTERVALS_SQL = (
    "SELECT value FROM ir_config_parameter WHERE key = 'peak_base.protected_intervals'"
)
CHANNELS_SQL = (
    "SELECT complete_name, peak_queue_channel_class(id), pinned, paused "
    "FROM queue_job_channel"
)
JOB_CHANNEL_SQL = "SELECT uuid, channel FROM queue_job WHERE uuid = ANY(%s)"
