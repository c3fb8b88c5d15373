"""peak-rehearsal: pre-peak load validation of an Odoo staging copy."""

__version__ = "0.1.0"
