"""Slipway's agent: model + loop + environment.

A plain Python package: it never imports Django or anything in ``platform/``.
The platform calls it with a plain configuration and an event sink.
"""
