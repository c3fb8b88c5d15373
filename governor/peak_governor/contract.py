"""The governor's side of the DB contract (docs/db-contract.md, version 5).

Every statement the governor sends to the lease tables lives here, so that one
test can hold them against the contract document.
"""

CONTRACT_VERSION = 5
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
    "FROM peak_queue_governor_heartbeat(%s, %s, %s, %s)"
)
RESIGN_SQL = "SELECT peak_queue_governor_resign(%s)"
# Conflicts of protected work per class since install (contract v3).
CONFLICTS_SQL = "SELECT priority_class, conflicts FROM peak_queue_conflicts()"
# Which signal the contract chose (v4): 'cancel' for a running statement,
# 'terminate' for a session idle in its transaction; and whether it was sent.
PREEMPT_SQL = (
    "SELECT signal, signal_sent FROM peak_queue_job_preempt(%s, %s, %s, %s, %s::jsonb)"
)
SUPERUSER_SQL = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
# Odoo's tables are read through definer functions (v5): the governor's role
# has no grant on ir_config_parameter, queue_job or pg_stat_activity's text.
SETTINGS_SQL = (
    "SELECT key, value FROM peak_queue_settings() WHERE key LIKE 'peak\\_governor.%%'"
)
HELD_LEASES_SQL = (
    "SELECT c.complete_name, EXTRACT(EPOCH FROM l.create_date AT TIME ZONE 'utc'),"
    " l.trickle FROM peak_queue_lease l JOIN queue_job_channel c"
    " ON c.id = l.channel_id WHERE l.holder = %s AND l.state = 'active'"
    " AND l.expires_at > (now() AT TIME ZONE 'utc')"
)
# Recovery at a new leader's start (v4): every active lease a governor took
# (its evidence carries the policy's ``backoff``), ours or a predecessor's,
# with how long ago it was last written.
GOVERNOR_LEASES_SQL = (
    "SELECT c.complete_name, l.holder, l.reason, l.evidence, l.trickle,"
    " EXTRACT(EPOCH FROM (now() AT TIME ZONE 'utc') - l.write_date)"
    " FROM peak_queue_lease l JOIN queue_job_channel c ON c.id = l.channel_id"
    " WHERE l.state = 'active' AND l.expires_at > (now() AT TIME ZONE 'utc')"
    " AND l.evidence ? 'backoff'"
)
# The newest governor lease event: a release of everything tells when.
LAST_GOVERNOR_EVENT_SQL = (
    "SELECT action, evidence,"
    " EXTRACT(EPOCH FROM (now() AT TIME ZONE 'utc') - create_date)"
    " FROM peak_queue_lease_event WHERE evidence ? 'backoff'"
    " ORDER BY id DESC LIMIT 1"
)
LEADER_SQL = (
    "SELECT holder, level, EXTRACT(EPOCH FROM expires_at - (now() AT TIME ZONE 'utc')),"
    " profile"
    " FROM peak_queue_governor_leader"
)
# The history without renewals (one per cycle: they would push the lease that
# explains them out of sight), and the latest renewal apart.
EVENTS_SQL = (
    "SELECT create_date, action, holder, reason, evidence FROM peak_queue_lease_event"
    " WHERE channel_name = %s AND action <> 'renewed' ORDER BY id DESC LIMIT %s"
)
LAST_RENEWAL_SQL = (
    "SELECT create_date, action, holder, reason, evidence FROM peak_queue_lease_event"
    " WHERE channel_name = %s AND action = 'renewed' ORDER BY id DESC LIMIT 1"
)
PROTECTED_INTERVALS_SQL = (
    "SELECT value FROM peak_queue_settings()"
    " WHERE key = 'peak_base.protected_intervals'"
)
CHANNELS_SQL = (
    "SELECT complete_name, peak_queue_channel_class(id), pinned, paused "
    "FROM queue_job_channel"
)
JOB_CHANNEL_SQL = "SELECT uuid, channel FROM peak_queue_job_channels(%s)"
# How long background and bulk jobs ran lately (p95, count): the default lead
# time of the pre-window drain.
JOB_DURATIONS_SQL = "SELECT p95_seconds, jobs FROM peak_queue_job_durations()"
# Everything the governor needs, checked at start so a missing grant is one
# clear line instead of an error in the middle of a pause. It writes only
# through the contract's SECURITY DEFINER functions (contract v2).
MISSING_PRIVILEGES_SQL = """
SELECT t.obj || ' ' || t.priv FROM (VALUES
    ('peak_queue_lease', 'SELECT'), ('peak_queue_lease_event', 'SELECT'),
    ('peak_queue_governor_leader', 'SELECT'), ('queue_job_channel', 'SELECT')
) AS t(obj, priv)
WHERE NOT has_table_privilege(t.obj, t.priv)
UNION ALL
SELECT f.fn || ' EXECUTE' FROM (VALUES
    ('peak_queue_lease_acquire(text, text, text, jsonb, integer, boolean)'),
    ('peak_queue_lease_release(text, text, text)'),
    ('peak_queue_lease_expire()'),
    ('peak_queue_governor_heartbeat(text, integer, text, text)'),
    ('peak_queue_governor_resign(text)'),
    ('peak_queue_job_preempt(integer, text, text, text, jsonb)'),
    ('peak_queue_conflicts()'),
    ('peak_queue_settings()'),
    ('peak_queue_job_channels(text[])'),
    ('peak_queue_job_durations()'),
    ('peak_queue_sessions()')
) AS f(fn)
WHERE NOT has_function_privilege(f.fn, 'EXECUTE')
"""
# More than it needs (v5): each line names a privilege to take away. Only a
# warning: the deployment gave them, and they do not stop the governor.
EXCESS_PRIVILEGES_SQL = """
SELECT 'membership in ' || r.role FROM (VALUES
    ('pg_monitor'), ('pg_read_all_stats'), ('pg_read_all_data')
) AS r(role)
WHERE pg_has_role(r.role, 'USAGE')
UNION ALL
SELECT 'SELECT on ' || t.obj FROM (VALUES ('ir_config_parameter'), ('queue_job'))
    AS t(obj)
WHERE to_regclass(t.obj) IS NOT NULL AND has_table_privilege(t.obj, 'SELECT')
"""
