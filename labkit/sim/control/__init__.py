"""The sim's own control API under ``/_sim``: health, hosts, install steps, logs, trace.

This is not an OpenStack API. labkit uses it to "install" layers (the same step objects a
real host gets over SSH), to show hosts and files in notebooks, and to read the trace of
what happened. Learners never need to call it directly.
"""
