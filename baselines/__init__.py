"""Baseline track finders compared against the fm4npp_geo models.

Each baseline implements the track finder interface of
:mod:`fm4npp_geo.tasks.protocol`, so the benchmark builds it from a config
``_target_`` and evaluates it on the same events with the same metrics.
"""
