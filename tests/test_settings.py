"""One settings reader (peak_settings) for the governor, its doctor and drills
and the addons: one precedence, one type conversion, one error format, and ""
meaning "not set" everywhere. No database, no network."""

import argparse
import dataclasses

import pytest

from peak_governor import cli, companions, doctor, drill
from peak_governor.config import policy_fields
from peak_governor.doctor import FAIL, PASS, SKIP, DoctorConfig
from peak_settings import SettingError, get, read_odoo_conf, resolve
from peak_settings import metrics as metrics_settings
from peak_settings import redis as redis_settings
from peak_settings import s3 as s3_settings


def test_flag_over_env_over_section_over_default_and_empty_is_unset():
    where = dict(
        flag="--x", env="PEAK_X", section={"x": "3"}, section_name="peak_y", keys=("x",)
    )
    assert get(int, 9, flag_value="1", environ={"PEAK_X": "2"}, **where) == 1
    assert get(int, 9, flag_value=None, environ={"PEAK_X": "2"}, **where) == 2
    assert get(int, 9, flag_value="", environ={"PEAK_X": " "}, **where) == 3
    assert get(int, 9, environ={}, flag="--x", env="PEAK_X") == 9
    assert resolve(environ={"PEAK_X": ""}, env="PEAK_X") is None
    assert resolve(section={"x": "1"}, section_name="peak_y", keys=("y", "x")) == (
        "1",
        "[peak_y] x",
    )


@pytest.mark.parametrize(
    ("read", "message"),
    [
        (
            lambda: cli.load_config(
                cli.build_parser().parse_args(["--dsn", "dbname=x"]),
                environ={"PEAK_GOVERNOR_INTERVAL": "fast"},
            ),
            "env PEAK_GOVERNOR_INTERVAL='fast' is not a number",
        ),
        (
            lambda: doctor.config_from(
                argparse.Namespace(workers=None), {"PEAK_DOCTOR_WORKERS": "many"}
            ),
            "env PEAK_DOCTOR_WORKERS='many' is not an integer",
        ),
        (
            lambda: drill.options_from(
                drill.build_parser().parse_args(
                    ["restore", "--database", "x", "--attachment-sample", "some"]
                ),
                {},
            ),
            "flag --attachment-sample='some' is not an integer",
        ),
        (
            lambda: s3_settings.load({"PEAK_S3_READ_TIMEOUT": "soon"}, {}),
            "env PEAK_S3_READ_TIMEOUT='soon' is not a number",
        ),
        (
            lambda: redis_settings.load({}, {"socket_timeout": "soon"}),
            "[peak_session_redis] socket_timeout='soon' is not a number",
        ),
        (
            lambda: metrics_settings.load({"PEAK_METRICS_CACHE_SECONDS": "ten"}, {}),
            "env PEAK_METRICS_CACHE_SECONDS='ten' is not a number",
        ),
        (
            lambda: s3_settings.load({}, {"s3_enabled": "maybe"}),
            "[peak_attachment_s3] s3_enabled='maybe' is not a boolean",
        ),
    ],
)
def test_one_error_type_and_format_everywhere(read, message):
    with pytest.raises(SettingError) as raised:
        read()
    assert str(raised.value).startswith(message)


def test_empty_values_are_unset_for_every_reader():
    args = cli.build_parser().parse_args(["--dsn", "dbname=x"])
    config = cli.load_config(
        args,
        environ={
            "PEAK_GOVERNOR_DRY_RUN": "",
            "PEAK_GOVERNOR_INTERVAL": "",
            "PEAK_GOVERNOR_MIN_DWELL_SECONDS": "",
        },
    )
    assert config.dry_run is False and config.interval == 1.0
    assert config.policy.min_dwell_seconds == cli.PolicyConfig().min_dwell_seconds
    # An empty variable leaves the file's value, in every addon.
    s3 = s3_settings.load({"PEAK_S3_ENABLED": "", "PEAK_S3_BUCKET": ""}, {})
    assert s3.enabled is None and s3.bucket == ""
    assert s3_settings.load({"PEAK_S3_BUCKET": ""}, {"s3_bucket": "b-1"}).bucket == (
        "b-1"
    )
    redis = redis_settings.load(
        {"PEAK_REDIS_URL": "", "PEAK_REDIS_MIGRATE_FILESYSTEM": ""},
        {"url": "redis://file:6379/0"},
    )
    assert redis.url == "redis://file:6379/0" and redis.migrate_filesystem is True
    metrics = metrics_settings.load({"PEAK_METRICS_CACHE_SECONDS": ""}, {})
    assert metrics.cache_seconds == metrics_settings.DEFAULT_CACHE_SECONDS


def test_help_keeps_policy_thresholds_in_the_expert_group():
    parser = cli.build_parser()
    main = [a for a in parser._actions if a.option_strings]
    expert = next(g for g in parser._action_groups if g.title == cli.EXPERT_TITLE)
    outside = [a for a in main if a not in expert._group_actions]
    assert len(outside) <= 12, [a.option_strings for a in outside]
    flags = {a.option_strings[0] for a in expert._group_actions}
    assert "--protected-elevated-enter-age" in flags and "--interval" in flags
    help_text = parser.format_help()
    assert "PEAK_GOVERNOR_PREEMPT_AFTER" in help_text  # still documented


def test_profile_and_drain_join_the_main_group_when_the_policy_has_them(
    monkeypatch,
):
    @dataclasses.dataclass(frozen=True)
    class Policy:
        profile: str = "balanced"
        drain: str = "auto"
        min_dwell_seconds: float = 10.0

    fields = policy_fields(Policy())
    assert fields["profile"] == (("profile",), str)
    monkeypatch.setattr(cli, "policy_fields", lambda: fields)
    parser = cli.build_parser()
    expert = next(g for g in parser._action_groups if g.title == cli.EXPERT_TITLE)
    in_expert = {a.dest for a in expert._group_actions}
    assert "policy__profile" not in in_expert and "policy__drain" not in in_expert
    assert "policy__min_dwell_seconds" in in_expert
    args = parser.parse_args(["--profile", "observe", "--drain", "90"])
    assert (args.policy__profile, args.policy__drain) == ("observe", "90")


# --- the doctor reads S3 and Redis as the addons do ----------------------------


@pytest.fixture
def probes(monkeypatch):
    """The S3 and Redis probes, answering, with what they were given."""
    seen = {}

    class Bucket:
        def head_bucket(self, Bucket):
            seen["bucket"] = Bucket

    def s3_client(cfg, environ, timeout, attempts=1):
        seen["s3"] = cfg
        return Bucket()

    def redis_ping(cfg, timeout):
        seen["redis"] = cfg
        return True

    monkeypatch.setattr(companions, "s3_client", s3_client)
    monkeypatch.setattr(companions, "redis_ping", redis_ping)
    return seen


def test_plain_aws_s3_without_an_endpoint_passes(probes):
    env = {"PEAK_S3_BUCKET": "odoo-peak-prod", "PEAK_S3_ENDPOINT_URL": ""}
    finding = doctor.check_s3(DoctorConfig(environ=env))[0]
    assert finding.status == PASS, finding
    assert probes["s3"].endpoint_url == "" and probes["bucket"] == "odoo-peak-prod"
    assert "AWS S3" in finding.message


def test_s3_refused_as_odoo_refuses_it(probes):
    finding = doctor.check_s3(DoctorConfig(environ={}))[0]
    assert finding.status == FAIL and "no bucket" in finding.message
    off = doctor.check_s3(DoctorConfig(environ={"PEAK_S3_ENABLED": "false"}))[0]
    assert off.status == SKIP


def test_sentinels_without_redis_url_pass(probes):
    env = {
        "PEAK_REDIS_SENTINELS": "redis-0:26379,redis-1:26379",
        "PEAK_REDIS_SENTINEL_MASTER": "peak-sessions",
    }
    finding = doctor.check_redis(DoctorConfig(environ=env))[0]
    assert finding.status == PASS, finding
    assert probes["redis"].sentinels == (("redis-0", 26379), ("redis-1", 26379))
    assert "sentinel://" in finding.message


def test_odoo_conf_peak_sections_are_read(tmp_path, probes):
    conf = tmp_path / "odoo.conf"
    conf.write_text(
        "[options]\nworkers = 4\n"
        "[peak_attachment_s3]\ns3_bucket = from-the-file\nregion = eu-west-3\n"
        "[peak_session_redis]\nurl = redis://sessions:6379/1\n"
        "[peak_metrics]\ntoken = a-token-from-the-file-0123\n"
    )
    args = argparse.Namespace(odoo_config=str(conf))
    cfg = doctor.config_from(args, {})
    assert cfg.workers == 4
    assert doctor.check_s3(cfg)[0].status == PASS
    assert (probes["bucket"], probes["s3"].region) == ("from-the-file", "eu-west-3")
    assert doctor.check_redis(cfg)[0].status == PASS
    assert probes["redis"].url == "redis://sessions:6379/1"
    # env PEAK_* still wins over the file
    cfg = doctor.config_from(args, {"PEAK_S3_BUCKET": "from-env"})
    doctor.check_s3(cfg)
    assert probes["bucket"] == "from-env"
    assert read_odoo_conf(str(conf))["peak_metrics"]["token"].startswith("a-token")


def test_bad_section_value_is_one_failed_finding(probes):
    cfg = DoctorConfig(sections={"peak_session_redis": {"socket_timeout": "0"}})
    finding = doctor.check_redis(cfg)[0]
    assert finding.status == FAIL
    assert "[peak_session_redis] socket_timeout='0' must be between" in (
        finding.message
    )
