"""S3 and Redis as Odoo sees them, for the doctor and the drills.

Their settings are read by the addons' own loaders (``peak_settings.s3``,
``peak_settings.redis``: the very code ``peak_attachment_s3`` and
``peak_session_redis`` run inside Odoo), from the same environment and the
same ``[peak_*]`` sections of the Odoo config file, so a deployment Odoo
accepts is never refused here (plain AWS S3 without an endpoint, Redis behind
Sentinels without ``PEAK_REDIS_URL``).
"""

from peak_settings import read_odoo_conf
from peak_settings import redis as redis_settings
from peak_settings import s3 as s3_settings

S3_SECTION = s3_settings.SECTION
REDIS_SECTION = redis_settings.SECTION


def odoo_sections(path: str) -> dict[str, dict[str, str]]:
    """The ``[peak_*]`` sections of an Odoo config file."""
    return {
        name: values
        for name, values in read_odoo_conf(path).items()
        if name.startswith("peak_")
    }


def s3_config(environ, sections) -> s3_settings.S3Config:
    """Odoo's S3 settings, validated as the addon does when the store is on."""
    cfg = s3_settings.load(environ, (sections or {}).get(S3_SECTION))
    if cfg.enabled is not False:
        s3_settings.validate(cfg)
    return cfg


def s3_client(cfg, environ, timeout: float, attempts: int = 1):
    """A boto3 client for Odoo's bucket. Credentials: boto3's chain, as in
    Odoo, unless PEAK_S3_ACCESS_KEY/_SECRET_KEY are given to the tool itself."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=cfg.endpoint_url or None,
        aws_access_key_id=environ.get("PEAK_S3_ACCESS_KEY") or None,
        aws_secret_access_key=environ.get("PEAK_S3_SECRET_KEY") or None,
        region_name=cfg.region or None,
        config=Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"total_max_attempts": attempts},
            s3={"addressing_style": cfg.addressing_style},
        ),
    )


def s3_where(cfg) -> str:
    return cfg.endpoint_url or f"AWS S3 ({cfg.region or 'default region'})"


def redis_config(environ, sections) -> redis_settings.StoreConfig:
    """Odoo's session-store settings (``enabled`` false: none configured)."""
    return redis_settings.load(environ, (sections or {}).get(REDIS_SECTION))


def redis_ping(cfg, timeout: float) -> bool:
    """PING the store Odoo uses (the Sentinels' master when configured so)."""
    client = redis_settings.make_client(cfg, timeout=timeout)
    try:
        return bool(client.ping())
    finally:
        client.close()
