# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Settings of ``/metrics``: env ``PEAK_METRICS_*`` > ``[peak_metrics]`` > default.

They live in the shared ``peak_settings.metrics`` (pure Python), so
``peak-governor doctor`` scrapes with the token Odoo checks.
"""

from peak_settings.metrics import (  # noqa: F401 - this addon's settings API
    DEFAULT_CACHE_SECONDS,
    DEFAULT_INTEGRATION_CHANNELS,
    DEFAULT_STATEMENT_TIMEOUT_MS,
    ENV_PREFIX,
    MIN_TOKEN_LENGTH,
    SECTION,
    MetricsConfig,
    MetricsConfigError,
    load,
    parse_allow,
)
