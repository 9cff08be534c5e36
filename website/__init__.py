"""The course's site: the guides in docs/ and every lecture rendered with the outputs of a run, built by Sphinx.

A lecture on the site is the student notebook from course/ (its exercises as stubs, no hidden test), each of its
cells given the outputs that the same cell printed and drew in an executed solution notebook, except the answer
cells: the site shows what a student sees after solving, never the solution. ``python -m website`` builds it.
"""
