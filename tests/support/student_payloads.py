"""A submission whose written answer and outputs try to run script in the browser of whoever looks at them
(Formgrader's hand-grading view, the feedback), and the check that none of it ran.

Every payload reports itself by requesting ``http://ran.invalid/<name>``: a page where one ran has made that
request, whatever the frame it ran in. The answer's own prose must still be readable.
"""
import json
import re

from nbformat.v4 import new_code_cell

REPORT = "http://ran.invalid/"
READABLE = "The KL term keeps q close to the prior; this sentence must stay readable."


def ran(name):
    return f"fetch('{REPORT}{name}')"


MARKDOWN = "\n\n".join([
    READABLE,
    f'<img src=x onerror="{ran("img-onerror")}">',
    f'<svg><image href="x" onerror="{ran("svg-image")}"/></svg><svg onload="{ran("svg-onload")}"></svg>',
    f'<script>{ran("script")}</script>',
    f'<iframe srcdoc="<script>{ran("iframe-srcdoc")}</script>"></iframe>',
    f'<iframe src="data:text/html,<script>{ran("iframe-data")}</script>"></iframe>',
    f'<a href="javascript:{ran("javascript-link")}">javascript link</a>',
    f'[markdown link](javascript:{ran("markdown-link")})',
    f'<details open ontoggle="{ran("ontoggle")}"><summary>more</summary>x</details>',
    f'<form action="javascript:{ran("form")}"><button>form button</button></form>',
    f'<object data="data:text/html,<script>{ran("object")}</script>"></object>',
])

DISPLAYED = [  # (IPython.display's class, its payload, the output's metadata)
    ("HTML", f'<script>{ran("html-output-script")}</script><img src=x onerror="{ran("html-output-img")}">', None),
    ("Javascript", ran("javascript-output"), None),
    ("SVG", f'<svg xmlns="http://www.w3.org/2000/svg" onload="{ran("svg-output")}">'
            f'<script>{ran("svg-output-script")}</script></svg>', None),
    ("Markdown", f'<img src=x onerror="{ran("markdown-output")}">', None),
    ("HTML", f'<iframe srcdoc="<script>{ran("html-output-iframe")}</script>"></iframe>', {"isolated": True}),
]
OUTPUTS = new_code_cell("from IPython.display import HTML, SVG, Javascript, Markdown, display\n" + "\n".join(
    f"display({kind}({payload!r}), metadata={metadata!r})" for kind, payload, metadata in DISPLAYED))
LINK_TEXTS = ("javascript link", "markdown link", "form button")


def with_payloads(notebook):
    """``notebook`` (a dict) with the payloads after the written answer, and a cell that displays them."""
    cells = notebook["cells"]
    (index,) = [i for i, c in enumerate(cells)
                if c["cell_type"] == "markdown" and c["metadata"].get("nbgrader", {}).get("grade")]
    cells[index]["source"] = "".join(cells[index]["source"]) + "\n\n" + MARKDOWN
    cells.insert(index + 1, json.loads(json.dumps(OUTPUTS)))
    return notebook


def assert_nothing_runs(page, open_page):
    """Open a page with ``open_page()``, click the payloads' links, and check that nothing reported."""
    reports = []
    page.on("request", lambda request: reports.append(request.url) if request.url.startswith(REPORT) else None)
    page.on("dialog", lambda dialog: (reports.append(f"dialog {dialog.message}"), dialog.dismiss()))
    page.route(re.compile(r"^http://ran\.invalid/"), lambda route: route.abort())
    open_page()
    for text in LINK_TEXTS:
        for link in page.get_by_text(text, exact=True).all():
            link.click(timeout=2000, no_wait_after=True)
    page.wait_for_timeout(1500)  # handlers and frames run soon after load
    assert not reports, f"student-made script ran in the viewer's page: {reports}"
    assert READABLE in page.locator("body").inner_text(), "the written answer is no longer readable"
