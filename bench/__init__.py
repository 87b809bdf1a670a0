"""Benchmark harness (issue 6): our scoring service against the reference server and two floors, side by side.

Run with ``python -m bench`` (``make bench``); ``python -m bench --help`` lists the options. The markdown table goes to
stdout and the full record to ``bench/results/latest.json``.
"""
