"""Shared helpers at the bottom of the dependency order: audit, locks, query pieces, money,
form fields, admin and API base classes, the role groups and the event registry.

Nothing here imports an app of ours; every app may import it. `hms_portal` is the site on top.
"""
