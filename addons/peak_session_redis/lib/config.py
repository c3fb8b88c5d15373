# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Settings of the Redis session store: env ``PEAK_REDIS_*`` > the
``[peak_session_redis]`` section of the Odoo config file > defaults.

They live in the shared ``peak_settings.redis`` (pure Python), so
``peak-governor doctor`` reads a deployment with this very code.
The password is read from the environment only, never from the file.
"""

from peak_settings.redis import (  # noqa: F401 - this addon's settings API
    DEFAULT_PREFIX,
    ENV_PREFIX,
    MIN_KEY_SECRET_CHARS,
    SECTION,
    ConfigError,
    StoreConfig,
    load,
    make_client,
    mask_url,
)
