"""Tickets and the complaint-handling process: states and transitions (process), the SLA rule (sla), opening
and feeding tickets from incidents (lifecycle), routing to departments, reply templates, repeat complainants
(customers) and the team's corrections."""
