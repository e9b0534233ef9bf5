"""Outbound webhooks: durable, signed delivery with retries, endpoint subscriptions and the delivery ledger.

Import the parts from their modules (``flowmon.delivery.service`` and so on).
"""
