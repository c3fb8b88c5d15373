"""Odoo Peak workload governor."""

__version__ = "0.1.0"
