"""The visible checks of the notebooks' exercises: one module per notebook, one function per graded cell.

They live here and not in the graded cells so that a check's hint reaches a student with the wrong answer it
is about, and the expected values, which would give a formula away, are not on the page. A graded cell calls
one function, as ``checks.kl_to_standard_normal(kl_to_standard_normal)``, which prints ``PASSED`` when every
check holds; the hidden tests run after it at grading.
"""
