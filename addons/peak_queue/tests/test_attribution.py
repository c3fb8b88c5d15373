# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""DB-session attribution in a real registry, observed like the governor does.

Each test watches ``pg_stat_activity`` from a second, independent PostgreSQL
connection (autocommit, so every query reads a fresh snapshot) while Odoo
runs a job, a request or a cron, and checks the ``application_name`` of the
backend doing the work.

To look *while* the work runs, the tests patch the method the work calls
(``queue.job._test_job``, queue_job's own test job; ``search_count``;
``exp_version``) with a probe for the duration of the test: no model method
exists only for the tests.  Crons are observed through their server action's
code, which reads ``current_setting('application_name')`` itself.
"""

import functools
from unittest.mock import patch

import psycopg2

import odoo
from odoo.tests import HttpCase, TransactionCase, tagged

from odoo.addons.peak_queue.controllers.main import PeakRunJobController
from odoo.addons.peak_queue.lib import attribution
from odoo.addons.queue_job.job import Job

BEFORE = "peak-test-before"


class ObserverMixin:
    """A second PostgreSQL connection reading ``pg_stat_activity``."""

    def _start_observer(self):
        _dbname, params = odoo.sql_db.connection_info_for(self.env.cr.dbname)
        params = dict(params, application_name="peak-test-observer")
        self.observer = psycopg2.connect(**params)
        self.observer.autocommit = True
        self.addCleanup(self.observer.close)
        self.pid = self._pid(self.env.cr)

    @staticmethod
    def _pid(cr):
        cr.execute("SELECT pg_backend_pid()")
        return cr.fetchone()[0]

    def _seen(self, pid):
        """``application_name`` of backend ``pid`` as another session sees it."""
        with self.observer.cursor() as cr:
            cr.execute(
                "SELECT application_name FROM pg_stat_activity WHERE pid = %s", [pid]
            )
            row = cr.fetchone()
        return row and row[0]


@tagged("post_install", "-at_install")
class TestJobAttribution(ObserverMixin, TransactionCase):
    def setUp(self):
        super().setUp()
        self._start_observer()
        attribution.set_application_name(self.env.cr, BEFORE)
        self.runs = []
        self.probe_error = None
        self.patch(type(self.env["queue.job"]), "_test_job", self._make_probe())

    def _make_probe(self):
        test = self

        def probe(records, *args, **kwargs):
            pid = test._pid(records.env.cr)
            test.runs.append(
                {
                    "pid": pid,
                    "seen": test._seen(pid),
                    "own": attribution.current_application_name(records.env.cr),
                }
            )
            if test.probe_error is not None:
                raise test.probe_error

        return probe

    def _job(self, channel="root.bulk"):
        delayed = self.env["queue.job"].with_delay(channel=channel)._test_job()
        job = Job.load(self.env, delayed.uuid)
        job.set_started()
        job.store()
        return job

    def _assert_restored(self):
        self.assertEqual(attribution.current_application_name(self.env.cr), BEFORE)
        self.assertEqual(self._seen(self.pid), BEFORE)

    def _patch_class_helper(self, helper):
        # queue.job.channel._peak_class_of may not exist (yet): create it.
        patcher = patch.object(
            type(self.env["queue.job.channel"]), "_peak_class_of", helper, create=True
        )
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_job_tag_is_visible_from_another_session_then_restored(self):
        job = self._job()
        self.assertEqual(self._seen(self.pid), BEFORE)
        PeakRunJobController._try_perform_job(self.env, job)

        self.assertEqual(len(self.runs), 1)
        run = self.runs[0]
        self.assertEqual(run["pid"], self.pid, "the job runs on the request's session")
        self.assertEqual(run["seen"], run["own"])
        seen = attribution.parse_tag(run["seen"])
        self.assertIsNotNone(seen, run["seen"])
        self.assertEqual(
            (seen.kind, seen.job_uuid, seen.channel, seen.channel_truncated),
            ("job", job.uuid, "root.bulk", False),
        )
        self.assertIn(seen.priority_class, attribution.CLASSES)
        self.assertEqual(job.state, "done")
        self._assert_restored()

    def test_class_comes_from_peak_class_of_when_it_exists(self):
        asked = []

        def peak_class_of(channels, channel):
            asked.append(channel)
            return "critical"

        self._patch_class_helper(peak_class_of)
        job = self._job("root.bulk.imports")
        PeakRunJobController._try_perform_job(self.env, job)
        self.assertEqual(asked, ["root.bulk.imports"])
        self.assertEqual(
            self.runs[0]["seen"],
            attribution.format_job_tag("critical", job.uuid, "root.bulk.imports"),
        )
        self._assert_restored()

    def test_class_falls_back_to_the_channel_name(self):
        self._patch_class_helper(None)
        job = self._job("root.sale.bulk")
        PeakRunJobController._try_perform_job(self.env, job)
        self.assertEqual(
            self.runs[0]["seen"],
            f"pk1|job|bulk|{job.uuid.replace('-', '')}|root.sale.bulk",
        )

    def test_unknown_class_is_tagged_with_the_default_class(self):
        self._patch_class_helper(lambda channels, channel: "urgent")
        job = self._job("root")
        with self.assertLogs("odoo.addons.peak_queue.controllers.main", "WARNING"):
            PeakRunJobController._try_perform_job(self.env, job)
        self.assertEqual(
            attribution.parse_tag(self.runs[0]["seen"]).priority_class, "operational"
        )
        self.assertEqual(job.state, "done")

    def test_long_channel_is_truncated_in_the_tag(self):
        self._patch_class_helper(None)
        channel = "root.bulk." + "very_long_segment." * 12 + "end"
        job = self._job(channel)
        PeakRunJobController._try_perform_job(self.env, job)
        tag = self.runs[0]["seen"]
        self.assertLessEqual(len(tag.encode()), 63)
        seen = attribution.parse_tag(tag)
        self.assertTrue(seen.channel_truncated)
        self.assertTrue(channel.endswith(seen.channel))
        self.assertEqual(seen.job_uuid, job.uuid)

    def test_failing_job_restores_the_previous_name(self):
        self.probe_error = ValueError("job failed")
        job = self._job()
        with self.assertRaisesRegex(ValueError, "job failed"):
            PeakRunJobController._try_perform_job(self.env, job)
        self.assertTrue(self.runs[0]["seen"].startswith("pk1|job|"))
        self._assert_restored()

    def test_aborted_transaction_skips_the_restore_quietly(self):
        def probe(records, *args, **kwargs):
            self.runs.append({"seen": self._seen(self.pid)})
            records.env.cr.execute("SELECT 1 / 0")

        self.patch(type(self.env["queue.job"]), "_test_job", probe)
        job = self._job()
        # The original error comes out, not InFailedSqlTransaction from the
        # restore; rolling the savepoint back undoes the tag.
        with self.assertRaises(psycopg2.errors.DivisionByZero), self.env.cr.savepoint():
            PeakRunJobController._try_perform_job(self.env, job)
        self.assertTrue(self.runs[0]["seen"].startswith("pk1|job|"))
        self._assert_restored()

    def test_allow_commit_job_tags_its_own_session(self):
        self.env.ref("queue_job.job_function_queue_job__test_job").allow_commit = True
        job = self._job()
        self.assertTrue(job.job_config.allow_commit)
        PeakRunJobController._try_perform_job(self.env, job)
        run = self.runs[0]
        self.assertNotEqual(
            run["pid"], self.pid, "allow_commit jobs get a cursor of their own"
        )
        seen = attribution.parse_tag(run["seen"])
        self.assertEqual((seen.kind, seen.job_uuid), ("job", job.uuid))
        self.assertNotIn("in_temporary_env", vars(job), "the wrapper is removed")
        self._assert_restored()


CRON_CODE = """
env.cr.execute("SELECT current_setting('application_name'), pg_backend_pid()")
app, pid = env.cr.fetchone()
env['ir.config_parameter'].sudo().set_param('peak_test.cron_app', app)
env['ir.config_parameter'].sudo().set_param('peak_test.cron_pid', pid)
"""


@tagged("post_install", "-at_install")
class TestCronAttribution(ObserverMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cron = cls.env["ir.cron"].create(
            {
                "name": "Peak probe: Entrepôt",
                "model_id": cls.env.ref("base.model_res_partner").id,
                "state": "code",
                "code": CRON_CODE,
                "interval_number": 1,
                "interval_type": "days",
            }
        )

    def setUp(self):
        super().setUp()
        self._start_observer()
        attribution.set_application_name(self.env.cr, BEFORE)

    def _observed(self):
        param = self.env["ir.config_parameter"].sudo().get_param
        return param("peak_test.cron_app"), int(param("peak_test.cron_pid"))

    def _assert_cron_tag(self):
        app, pid = self._observed()
        self.assertEqual(pid, self.pid)
        self.assertEqual(app, f"pk1|cron|{self.cron.id}|Peak_probe__Entrep_t")
        self.assertEqual(
            attribution.parse_tag(app),
            attribution.Attribution(
                kind="cron", cron_id=self.cron.id, label="Peak_probe__Entrep_t"
            ),
        )
        self.assertEqual(attribution.current_application_name(self.env.cr), BEFORE)
        self.assertEqual(self._seen(self.pid), BEFORE)

    def test_run_manually_is_tagged_as_cron(self):
        self.cron.method_direct_trigger()
        self._assert_cron_tag()

    def test_scheduled_callback_is_tagged_as_cron(self):
        self.cron._callback(self.cron.cron_name, self.cron.ir_actions_server_id.id)
        self._assert_cron_tag()


@tagged("post_install", "-at_install")
class TestHttpAttribution(ObserverMixin, HttpCase):
    def setUp(self):
        super().setUp()
        # Requests run on this test's connection (through a TestCursor).
        self._start_observer()
        self.seen = []

    def _observe_during(self, owner, name):
        """Wrap ``owner.name`` so that each call records what an observer
        sees of this session while the call runs."""
        original = getattr(owner, name)

        @functools.wraps(original)
        def observed(*args, **kwargs):
            self.seen.append(self._seen(self.pid))
            return original(*args, **kwargs)

        self.patch(owner, name, observed)

    def test_json_rpc_call_is_tagged_with_model_and_method(self):
        self._observe_during(type(self.env["res.partner"]), "search_count")
        self.authenticate("admin", "admin")
        count = self.make_jsonrpc_request(
            "/web/dataset/call_kw/res.partner/search_count",
            {
                "model": "res.partner",
                "method": "search_count",
                "args": [[]],
                "kwargs": {},
            },
        )
        self.assertIsInstance(count, int)
        self.assertEqual(self.seen, ["pk1|http|res.partner.search_count"])
        self.assertEqual(
            attribution.parse_tag(self.seen[0]),
            attribution.Attribution(kind="http", label="res.partner.search_count"),
        )

    def test_other_routes_are_tagged_with_their_endpoint(self):
        # auth="none" but served with a database: it has a cursor, so a tag.
        self._observe_during(odoo.service.common, "exp_version")
        self.make_jsonrpc_request("/web/webclient/version_info", {})
        self.assertEqual(self.seen, ["pk1|http|web.WebClient.version_info"])

    def test_runjob_request_carries_the_job_tag_only(self):
        runs = []

        def probe(records, *args, **kwargs):
            runs.append(self._seen(self.pid))

        self.patch(type(self.env["queue.job"]), "_test_job", probe)
        delayed = self.env["queue.job"].with_delay(channel="root.bulk")._test_job()
        job = Job.load(self.env, delayed.uuid)
        job.set_enqueued()
        job.store()
        self.env.flush_all()
        attribution.set_application_name(self.env.cr, BEFORE)

        response = self.url_open(
            f"/queue_job/runjob?db={self.env.cr.dbname}&job_uuid={job.uuid}"
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(len(runs), 1)
        seen = attribution.parse_tag(runs[0])
        self.assertEqual((seen.kind, seen.job_uuid), ("job", job.uuid))
        # Not tagged as an interactive request before or after the job.
        self.assertEqual(attribution.current_application_name(self.env.cr), BEFORE)
        self.assertEqual(
            self.env["queue.job"].search([("uuid", "=", job.uuid)]).state, "done"
        )
