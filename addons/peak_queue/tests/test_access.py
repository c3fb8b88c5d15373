# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Who may read what: jobs carry arguments and tracebacks (customer data,
credentials in a failed call), so only queue managers read them; Peak users
see channels and how many jobs wait in each."""

from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestQueueAccess(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.peak_user = new_test_user(
            cls.env, "peak_reader", groups="base.group_user,peak_base.group_peak_user"
        )
        cls.peak_manager = new_test_user(
            cls.env,
            "peak_boss",
            groups="base.group_user,peak_base.group_peak_manager",
        )
        cls.queue_manager = new_test_user(
            cls.env,
            "queue_boss",
            groups="base.group_user,queue_job.group_queue_job_manager",
        )
        delayed = cls.env["res.partner"].with_delay(channel="root.bulk")
        cls.job = delayed.create({"name": "EDI 4711, token=s3cret"}).db_record()

    def test_peak_users_and_managers_cannot_read_jobs(self):
        for user in (self.peak_user, self.peak_manager):
            jobs = self.env["queue.job"].with_user(user)
            with self.assertRaises(AccessError, msg=user.login):
                jobs.search([("id", "=", self.job.id)])
            with self.assertRaises(AccessError, msg=user.login):
                self.job.with_user(user).read(["args", "exc_info"])

    def test_peak_users_still_see_how_many_jobs_wait(self):
        bulk = self.env.ref("peak_queue.channel_bulk").with_user(self.peak_user)
        self.assertGreaterEqual(bulk.pending_count, 1)

    def test_queue_managers_read_jobs(self):
        found = (
            self.env["queue.job"]
            .with_user(self.queue_manager)
            .search([("id", "=", self.job.id)])
        )
        self.assertEqual(found, self.job)
