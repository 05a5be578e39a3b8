"""Alerts: scored mentions become incidents, incidents become tickets, and people are told.
Tickets follow the complaint-handling process in docs/DOMAIN.md, with SLA timers."""
