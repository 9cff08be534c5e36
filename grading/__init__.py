"""Instructor-side code: the ``python -m grading`` commands and what nbgrader_config.py plugs into nbgrader.

The notebooks never import it. ``parallel`` grades a class (``python -m grading autograde``),
``sandbox`` and ``execution`` run each submission's code in a sandbox and to its end, ``release``
shapes the student notebooks that ``nbgrader generate_assignment`` writes, ``feedback`` the feedback
students receive, ``lms`` collection from a learning management system, and ``validation`` makes
``nbgrader validate`` usable from scripts.
"""
