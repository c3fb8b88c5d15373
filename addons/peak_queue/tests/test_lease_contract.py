# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo.exceptions import AccessError, UserError
from odoo.tests import TransactionCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestLeaseContract(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Lease = cls.env["peak.queue.lease"]
        cls.Event = cls.env["peak.queue.lease.event"]
        cls.Channel = cls.env["queue.job.channel"]
        cls.manager = new_test_user(
            cls.env,
            "lease_manager",
            groups="base.group_user,peak_base.group_peak_manager",
        )
        cls.bulk = cls.env.ref("peak_queue.channel_bulk")
        cls.critical = cls.env.ref("peak_queue.channel_critical")

    def _counts(self):
        return self.Lease.search_count([]), self.Event.search_count([])

    def _assert_refused(self, message, **kwargs):
        before = self._counts()
        args = {
            "channel": "root.bulk",
            "reason": "locks held on stock.quant",
            "evidence": {"waiters": 3},
            "ttl_seconds": 60,
        }
        args.update(kwargs)
        with self.assertRaisesRegex(UserError, message):
            self.Lease.with_user(self.manager).acquire(**args)
        self.assertEqual(self._counts(), before, "a refused lease writes nothing")

    def test_acquire_renew_release_are_audited(self):
        lease = self.Lease.with_user(self.manager).acquire(
            "root.bulk",
            "waves",
            {"blocked": ["pid 42"]},
            ttl_seconds=30,
            holder="gov-a",
        )
        self.assertEqual((lease.state, lease.channel_id), ("active", self.bulk))
        self.assertEqual(lease.evidence, {"blocked": ["pid 42"]})
        self.assertEqual(self.bulk.active_lease_id, lease)
        self.assertGreater(self.bulk.lease_remaining, 20)
        again = self.Lease.with_user(self.manager).acquire(
            "root.bulk", "still waves", {}, ttl_seconds=50, holder="gov-a"
        )
        self.assertEqual(again, lease, "the same holder renews its lease")
        released = self.Lease.with_user(self.manager).release(
            "root.bulk", "gov-a", "calm"
        )
        self.assertEqual(released, 1)
        self.assertEqual(lease.state, "released")
        actions = self.Event.search([("lease_id", "=", lease.id)]).mapped("action")
        self.assertEqual(actions, ["released", "renewed", "created"])

    def test_two_holders_hold_two_leases(self):
        first = self.Lease.with_user(self.manager).acquire("root.bulk", "a", holder="a")
        second = self.Lease.with_user(self.manager).acquire(
            "root.bulk", "b", holder="b"
        )
        self.assertNotEqual(first, second)
        self.Lease.with_user(self.manager).release("root.bulk", "a")
        self.assertEqual(self.bulk.active_lease_id, second)

    def test_expiry_is_recorded(self):
        lease = self.Lease.with_user(self.manager).acquire(
            "root.bulk", "short", ttl_seconds=1
        )
        self.env.cr.execute(
            "UPDATE peak_queue_lease SET expires_at = expires_at - interval '1 minute' "
            "WHERE id = %s",
            [lease.id],
        )
        self.assertEqual(self.Lease._expire_overdue(), 1)
        self.assertEqual(lease.state, "expired")
        self.assertEqual(self.Event.search([], limit=1).action, "expired")

    def test_critical_channel_is_refused(self):
        self._assert_refused("critical", channel="root.critical")

    def test_channel_containing_a_critical_child_is_refused(self):
        self.Channel.create(
            {"name": "labels", "parent_id": self.bulk.id, "priority_class": "critical"}
        )
        self._assert_refused("root.bulk.labels is critical")

    def test_pinned_channel_is_refused(self):
        self.bulk.pinned = True
        self._assert_refused("pinned")

    def test_parent_of_pinned_channel_is_refused(self):
        self.Channel.create(
            {"name": "urgent", "parent_id": self.bulk.id, "pinned": True}
        )
        self._assert_refused("root.bulk.urgent is pinned")

    def test_root_is_refused(self):
        self._assert_refused("root channel", channel="root")

    def test_unknown_channel_is_refused(self):
        self._assert_refused("unknown channel root.nowhere", channel="root.nowhere")

    def test_bad_ttls_are_refused(self):
        self._assert_refused("between 1 and 3600", ttl_seconds=0)
        self._assert_refused("between 1 and 3600", ttl_seconds=-5)
        self._assert_refused("between 1 and 3600", ttl_seconds=3601)
        self.env["ir.config_parameter"].sudo().set_param(
            "peak_queue.lease_max_ttl_seconds", "120"
        )
        self._assert_refused("between 1 and 120", ttl_seconds=121)

    def test_malformed_evidence_is_refused(self):
        self._assert_refused("JSON object", evidence=["not", "an", "object"])
        self._assert_refused("JSON object", evidence="text")
        self._assert_refused("64 KiB", evidence={"blob": "x" * 70000})

    def test_empty_reason_is_refused(self):
        self._assert_refused("reason", reason="  ")

    def test_sql_contract_refuses_malformed_json_from_any_client(self):
        # The governor calls the SQL function directly: the same rules apply.
        before = self._counts()
        with self.assertRaisesRegex(Exception, "evidence must be a JSON object"):
            with self.env.cr.savepoint():
                self.env.cr.execute(
                    "SELECT * FROM peak_queue_lease_acquire(%s, %s, %s, %s::jsonb, %s)",
                    ("root.bulk", "gov", "why", "[1, 2]", 30),
                )
        self.assertEqual(self._counts(), before)

    def test_plain_user_cannot_lease(self):
        user = new_test_user(self.env, "peak_plain", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.Lease.with_user(user).acquire("root.bulk", "no")

    def test_events_are_append_only(self):
        self.Lease.with_user(self.manager).acquire("root.bulk", "x")
        event = self.Event.search([], limit=1)
        with self.assertRaises(AccessError):
            event.write({"reason": "y"})
        with self.assertRaises(AccessError):
            event.unlink()

    def test_class_inheritance_and_default(self):
        child = self.Channel.create({"name": "nightly", "parent_id": self.bulk.id})
        self.assertEqual(child.effective_class, "bulk")
        root = self.env.ref("queue_job.channel_root")
        self.assertEqual(root.effective_class, "operational")
        self.assertEqual(self.Channel._peak_class_of("root.bulk.nightly.deep"), "bulk")
        self.env.cr.execute("SELECT peak_queue_channel_class(%s)", [child.id])
        self.assertEqual(self.env.cr.fetchone()[0], "bulk", "SQL and ORM agree")

    def test_class_lookup_is_cached_and_follows_changes(self):
        child = self.Channel.create({"name": "cached", "parent_id": self.bulk.id})
        with self.assertQueryCount(1):
            self.assertEqual(
                self.Channel._peak_class_of("root.bulk.cached.x.y"), "bulk"
            )
        with self.assertQueryCount(0):
            self.assertEqual(
                self.Channel._peak_class_of("root.bulk.cached.x.y"), "bulk"
            )
        child.priority_class = "background"
        self.assertEqual(
            self.Channel._peak_class_of("root.bulk.cached.x.y"), "background"
        )
        child.unlink()
        self.assertEqual(self.Channel._peak_class_of("root.bulk.cached.x.y"), "bulk")
        self.assertEqual(self.Channel._peak_class_of(""), "operational")
        self.assertEqual(self.Channel._peak_class_of("nowhere.at.all"), "operational")

    def test_function_rules_route_channelless_jobs(self):
        Function = self.env["queue.job.function"]
        self.assertEqual(
            Function.job_config("<base_import.import>._split_file").channel, "root.bulk"
        )
        self.assertEqual(
            Function.job_config("<res.partner>.write").channel, "root.operational"
        )
        self.env["peak.queue.function.rule"].create(
            {
                "pattern": "<res.partner>.*",
                "priority_class": "background",
                "sequence": 1,
            }
        )
        self.assertEqual(
            Function.job_config("<res.partner>.write").channel, "root.background"
        )

    def test_trickle_lease_is_reported_to_the_runner(self):
        self.Lease.with_user(self.manager).acquire("root.bulk", "guard", trickle=True)
        self.env.cr.execute("SELECT channel, trickle FROM peak_queue_active_leases()")
        self.assertEqual(self.env.cr.fetchall(), [("root.bulk", True)])
        # A full pause by another holder wins over the trickle.
        self.Lease.with_user(self.manager).acquire("root.bulk", "stop", holder="other")
        self.env.cr.execute("SELECT channel, trickle FROM peak_queue_active_leases()")
        self.assertEqual(self.env.cr.fetchall(), [("root.bulk", False)])

    def test_governor_leadership_is_exclusive_until_expiry(self):
        def beat(holder, ttl=30):
            self.env.cr.execute(
                "SELECT is_leader, leader FROM peak_queue_governor_heartbeat(%s, %s)",
                (holder, ttl),
            )
            return self.env.cr.fetchone()

        self.assertEqual(beat("gov-a"), (True, "gov-a"))
        self.assertEqual(beat("gov-b"), (False, "gov-a"))
        self.assertEqual(beat("gov-a"), (True, "gov-a"), "the leader renews")
        self.env.cr.execute(
            "UPDATE peak_queue_governor_leader SET expires_at = expires_at - "
            "interval '1 minute'"
        )
        self.assertEqual(beat("gov-b"), (True, "gov-b"), "expired: taken over")
        self.env.cr.execute("SELECT peak_queue_governor_resign('gov-b')")
        self.assertTrue(self.env.cr.fetchone()[0])
        self.assertEqual(beat("gov-a"), (True, "gov-a"), "resigned: free at once")

    def test_governor_settings_are_system_parameters(self):
        settings = self.env["res.config.settings"].create(
            {"peak_governor_severe_age": 3.5}
        )
        settings.execute()
        self.assertEqual(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("peak_governor.protected_severe_enter_age"),
            "3.5",
        )
