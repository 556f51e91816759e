#!/usr/bin/env python3
"""Reads bench JSON lines (bench_engine and the baseline) on stdin; prints a markdown table."""
import json
import os
import sys

rows = [json.loads(l) for l in sys.stdin if l.strip()]
ours = next(r for r in rows if r["engine"].startswith("arbiter"))
print(f"CPU: {os.environ.get('CPU', '?')}, threads: {os.environ.get('THREADS', '?')}, "
      f"{ours['sentences']} sentences (mean {ours['mean_tokens']} tokens)\n")
print("| batch | engine | mode | sentences/s | vs baseline | vs plain (same path) | recording µs/sentence | peak RSS MiB |")
print("|---|---|---|---|---|---|---|---|")
for b in sorted({r["batch"] for r in rows}):
    batch = [r for r in rows if r["batch"] == b]
    base = next((r for r in batch if not r["engine"].startswith("arbiter")), None)
    for r in batch:
        ratio = f"{r['sentences_per_s'] / base['sentences_per_s']:.2f}x" if base else "-"
        plain = next((p for p in batch if p["engine"] == r["engine"] and p["mode"] == "plain"), None)
        vs_plain = f"{r['sentences_per_s'] / plain['sentences_per_s']:.3f}x" if plain and r["engine"].startswith("arbiter") else "-"
        record = f"{r['record_us_per_sentence']:.1f}" if r.get("mode") == "committed" else "-"
        print(f"| {b} | {r['engine']} | {r['mode']} | {r['sentences_per_s']:.1f} | {ratio} | {vs_plain} | {record} | {r['peak_rss_mib']:.0f} |")
