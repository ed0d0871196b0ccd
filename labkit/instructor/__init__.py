"""The instructors' tools: many labs at once.

* :mod:`.attendees` -- which labs: ``--env sim:alice``, ``@workshop.yaml`` ...;
* :mod:`.run` -- ``labkit run``: papermill over every lab x notebook, in parallel, resumable;
* :mod:`.worker` -- one lab's notebooks in a process of their own;
* :mod:`.live` -- the run's progress as it goes: a bar per lab in a terminal, a live table
  in a notebook (``lab.run(...)``);
* :mod:`.probe` -- the ground truth of a lab, read through its APIs;
* :mod:`.progress` -- ``lab.check_progress()`` / ``labkit progress``: the learner's arc;
* :mod:`.report` -- the report's model, ``report.json``, the terminal summary and the HTML;
* :mod:`.preflight` -- ``labkit check ENV ENV ...``: one table for many labs.

Nothing here is imported by ``import labkit``; the CLI imports it when asked.
"""
