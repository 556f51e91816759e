#!/usr/bin/env python3
"""Audits and the verifier's dilemma, simulated (docs/economics.md; docs/protocol.md, "Audits").

Each run plays `--tasks` tasks. A cheating provider commits a wrong result for a share `cheat` of
its tasks, saving the compute cost; every result is drawn for audit with probability `audit_rate`
after the commit (the draw uses a block hash that did not exist yet, so a cheater cannot aim its
cheats at unaudited tasks); an audited result gets `auditors` auditors, each lazy (attests without
re-executing) with probability `lazy`, otherwise diligent (re-executes; attests a right result,
challenges a wrong one and wins). A wrong result challenged by a diligent auditor (or by a
volunteer watcher, probability `watchers`) is slashed `slash` of the provider's stake (half to the
challenger), its lazy co-auditors who attested are slashed `attestation_slash` of theirs (half to
the challenger), and the task is reassigned: the cheater is not paid for it. Attestations of a
result that stands are paid `audit_reward` of the price from the treasury.

Printed, per setting: how often a wrong result is caught, the cheater's profit per task against
running honestly, a lazy auditor's profit per audit against a diligent one's, and the treasury's
net per task (fees and slashes in, attestation pay out). Every number is an average over the
simulated tasks (seeded: the same output every run).

    audit_sim.py [--tasks 10000] [--seed 1] [--markdown]
"""
import argparse
import json
import random

UNIT = 1.0


def play(tasks, rng, *, cheat, audit_rate, auditors, lazy, watchers=0.0, price=2 * UNIT, cost=0.4,
         fee=0.05, audit_reward=0.5, attestation_slash=0.25, slash=0.10, stake=1_000 * UNIT,
         challenger_share=0.5):
    """Averages per task (provider) and per audit draw (auditor) over `tasks` tasks."""
    compute = cost * price
    caught = wrong = 0
    cheater = honest = 0.0  # the provider's profit, cheating as asked / always honest
    lazy_sum = lazy_n = diligent_sum = diligent_n = 0
    treasury = 0.0
    for _ in range(tasks):
        is_wrong = rng.random() < cheat
        honest += price * (1 - fee) - compute
        treasury += price * fee
        audited = rng.random() < audit_rate
        drawn = [rng.random() < lazy for _ in range(auditors)] if audited else []
        diligent_present = any(not is_lazy for is_lazy in drawn)
        detected = is_wrong and (diligent_present or rng.random() < watchers)
        if is_wrong:
            wrong += 1
            caught += detected
        if detected:
            # Slashed, not paid; the challenger (the first diligent auditor, else a watcher)
            # gets its share of the provider's slash and of each lazy attester's.
            cheater -= slash * stake
            lazy_count = drawn.count(True)
            forfeited = slash * stake + attestation_slash * stake * lazy_count
            treasury += (1 - challenger_share) * forfeited
            first_diligent = drawn.index(False) if diligent_present else None
            for k, is_lazy in enumerate(drawn):
                if is_lazy:
                    lazy_sum -= attestation_slash * stake
                    lazy_n += 1
                else:
                    share = challenger_share * forfeited if k == first_diligent else 0.0
                    diligent_sum += share - compute
                    diligent_n += 1
        else:
            cheater += price * (1 - fee) - (0 if is_wrong else compute)
            for is_lazy in drawn:
                # Attested and paid (a wrong result that stands was attested by lazy ones only).
                treasury -= audit_reward * price
                if is_lazy:
                    lazy_sum += audit_reward * price
                    lazy_n += 1
                else:
                    diligent_sum += audit_reward * price - compute
                    diligent_n += 1
    # The same in expectation (what the simulation converges to).
    d = audit_rate * (1 - lazy ** auditors) + (1 - audit_rate * (1 - lazy ** auditors)) * watchers
    paid = price * (1 - fee)
    expected_gain = cheat * (compute - d * (paid + slash * stake))
    # A lazy auditor's co-auditors (auditors - 1 of them) catch a wrong result when one is diligent.
    co = 1 - lazy ** (auditors - 1) if auditors > 1 else watchers
    expected_lazy = (1 - cheat * co) * audit_reward * price - cheat * co * attestation_slash * stake
    return {
        "detection_expected": round(d, 4),
        "cheating_gain_expected": round(expected_gain, 4),
        "lazy_profit_expected": round(expected_lazy, 4),
        "detection": caught / wrong if wrong else None,
        "cheating_gain_per_task": (cheater - honest) / tasks,
        "lazy_profit_per_audit": lazy_sum / lazy_n if lazy_n else None,
        "diligent_profit_per_audit": diligent_sum / diligent_n if diligent_n else None,
        "treasury_net_per_task": treasury / tasks,
    }


# The runtime's recommended values (docs/economics.md): a price of 2 ARBT whose compute costs 40 %
# of it, a 5 % protocol fee, the minimum stake of 1,000 ARBT, a 10 % provider slash.
DEFAULTS = dict(audit_rate=0.05, auditors=2, audit_reward=0.5, attestation_slash=0.25)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--markdown", action="store_true", help="a table (docs/economics.md) instead of JSON lines")
    a = ap.parse_args()
    if a.markdown:
        print("| cheats | lazy auditors | audit rate | wrong results caught (sim / expected) | cheating's gain per task, ARBT (sim / expected) "
              "| lazy auditor per audit (sim / expected) | diligent auditor per audit | treasury per task |")
        print("|---|---|---|---|---|---|---|---|")
    for cheat in (0.0, 0.05, 0.50):
        for lazy in (0.5, 0.9):
            for audit_rate in (0.01, 0.02, 0.05, 0.10, 0.20):
                if cheat == 0.0 and audit_rate != DEFAULTS["audit_rate"]:
                    continue
                rng = random.Random(a.seed)
                setting = {**DEFAULTS, "audit_rate": audit_rate}
                r = play(a.tasks, rng, cheat=cheat, lazy=lazy, **setting)
                if a.markdown:
                    f = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
                    print(f"| {cheat:.0%} | {lazy:.0%} | {audit_rate:.0%} | {f(r['detection'])} / {r['detection_expected']:.3f} "
                          f"| {f(r['cheating_gain_per_task'])} / {r['cheating_gain_expected']:.3f} "
                          f"| {f(r['lazy_profit_per_audit'])} / {r['lazy_profit_expected']:.3f} "
                          f"| {f(r['diligent_profit_per_audit'])} | {r['treasury_net_per_task']:.3f} |")
                    continue
                print(json.dumps({"cheat": cheat, "lazy": lazy, **setting,
                                  **{k: (round(v, 4) if v is not None else None) for k, v in r.items()}}))


if __name__ == "__main__":
    main()
