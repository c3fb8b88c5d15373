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
    "FROM peak_queue_governor_heartbeat(%s, %s, %s)"
)
RESIGN_SQL = "SELECT peak_queue_governor_resign(%s)"
SUPERUSER_SQL = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
SETTINGS_SQL = (
    "SELECT key, value FROM ir_config_parameter WHERE key LIKE 'peak\\_governor.%%'"
)
HELD_LEASES_SQL = (
    "SELECT c.complete_name, EXTRACT(EPOCH FROM l.create_date AT TIME ZONE 'utc'),"
    " l.trickle FROM peak_queue_lease l JOIN queue_job_channel c"
    " ON c.id = l.channel_id WHERE l.holder = %s AND l.state = 'active'"
    " AND l.expires_at > (now() AT TIME ZONE 'utc')"
)
LEADER_SQL = (
    "SELECT holder, level, EXTRACT(EPOCH FROM expires_at - (now() AT TIME ZONE 'utc'))"
    " FROM peak_queue_governor_leader"
)
EVENTS_SQL = (
    "SELECT create_date, action, holder, reason, evidence FROM peak_queue_lease_event"
    " WHERE channel_name = %s ORDER BY id DESC LIMIT %s"
)
PROTECTED_INTERVALS_SQL = (
    "SELECT value FROM ir_config_parameter WHERE key = 'peak_base.protected_intervals'"
)
CHANNELS_SQL = (
    "SELECT complete_name, peak_queue_channel_class(id), pinned, paused "
    "FROM queue_job_channel"
)
JOB_CHANNEL_SQL = "SELECT uuid, channel FROM queue_job WHERE uuid = ANY(%s)"
# Everything the governor writes, checked at start so a missing grant is one
# clear line instead of an error in the middle of a pause.
MISSING_PRIVILEGES_SQL = """
SELECT t.obj || ' ' || t.priv FROM (VALUES
    ('peak_queue_lease', 'INSERT'), ('peak_queue_lease', 'UPDATE'),
    ('peak_queue_lease', 'SELECT'), ('peak_queue_lease_event', 'INSERT'),
    ('peak_queue_governor_leader', 'INSERT'), ('peak_queue_governor_leader', 'UPDATE'),
    ('peak_queue_governor_leader', 'DELETE'), ('queue_job_channel', 'SELECT'),
    ('queue_job', 'SELECT'), ('ir_config_parameter', 'SELECT')
) AS t(obj, priv)
WHERE NOT has_table_privilege(t.obj, t.priv)
UNION ALL
SELECT s.seq || ' USAGE' FROM (VALUES
    ('peak_queue_lease_id_seq'), ('peak_queue_lease_event_id_seq')
) AS s(seq)
WHERE NOT has_sequence_privilege(s.seq, 'USAGE')
UNION ALL
SELECT 'membership in pg_monitor'
WHERE NOT pg_has_role('pg_monitor', 'USAGE')
"""
