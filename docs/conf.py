"""Sphinx's settings for the course's site, which `python -m website` builds (see website/)."""
project = "Variational Autoencoders, hands on"
author = "the course's authors"
extensions = ["myst_nb"]
nb_execution_mode = "off"       # the lectures carry the outputs of a run already
myst_enable_extensions = ["colon_fence"]  # no dollarmath: the lectures' math is MathML, drawn by the browser offline
exclude_patterns = ["_build", "conf.py"]
html_theme = "sphinx_book_theme"
html_title = project
html_copy_source = False        # the site shows lectures, not their files
html_theme_options = {
    "repository_url": "https://github.com/vae-hands-on/vae-hands-on",
    "use_repository_button": True,
    "home_page_in_toc": True,
    "show_toc_level": 2,
}
