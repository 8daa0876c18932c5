"""The monitoring service: live signals → automated actions → human escalation, and drills.

After launch the audit's reference profile, thresholds and owners become the live watch
(docs/monitor.md). The service (``assay monitor serve``) ingests prediction events, labels and
business KPIs; detectors compare windows of live traffic with the audited baseline; rules in
the spec's ``monitor:`` section turn signals into idempotent automated actions and incidents
with acknowledgement deadlines that escalate; drills (``assay monitor drill``) prove it fires.

Nothing in the audit path imports this package.
"""
