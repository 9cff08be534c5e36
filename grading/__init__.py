"""Instructor-side code: what the course's nbgrader_config.py plugs into nbgrader.

The notebooks never import it. ``release`` shapes the student notebooks that
``nbgrader generate_assignment`` writes, ``feedback`` the feedback students receive, and
``validation`` makes ``nbgrader validate`` usable from scripts.
"""
