"""Webhooks: durable, signed outbound delivery; signed inbound triggers; cron schedules.

Import the parts from their modules (``flowmon.webhooks.service`` and so on): this package's ``__init__``
stays empty so that ``flowmon.store`` can register :mod:`flowmon.webhooks.tables` without import cycles.
"""
