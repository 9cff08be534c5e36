"""What a student makes is inert wherever staff or other students look.

A submission's markdown and outputs are the student's own HTML: a written answer ``<img src=x onerror=...>`` or
a ``text/html`` output holding a ``<script>`` would run as the instructor in Formgrader's hand-grading view,
with her server's rights. Every page nbgrader makes from a notebook (Formgrader's views, the feedback) is
nbconvert's ``HTMLExporter``; ``nbgrader_config.py`` makes each of them pass student HTML through one
allow-list, ``inert_html``: formatting, tables, images, links to web pages and the MathML of
``grading.feedback.RenderMath`` stay; scripts, event handlers, frames, forms, styles, ``javascript:`` links
and ``id`` attributes (which could shadow the page's own names) do not. A tag that is not allowed is shown as
text, so the answer stays readable for grading.
"""
import bleach
from jinja2 import pass_context
from traitlets.config import LoggingConfigurable

MATHML = {
    "math": ["display", "xmlns"], "mrow": [], "mi": ["mathvariant"], "mn": ["mathvariant"], "mtext": ["mathvariant"],
    "mo": ["accent", "fence", "form", "lspace", "rspace", "maxsize", "minsize", "movablelimits", "stretchy",
           "symmetric", "largeop", "separator", "mathvariant"],
    "mfrac": ["linethickness"], "msqrt": [], "mroot": [], "msub": [], "msup": [], "msubsup": [], "munder": ["accentunder"],
    "mover": ["accent"], "munderover": ["accent", "accentunder"], "mspace": ["width", "height", "depth"],
    "mstyle": ["displaystyle", "scriptlevel", "mathvariant"], "mpadded": ["width", "height", "depth", "lspace", "voffset"],
    "mtable": ["columnalign", "rowspacing", "columnspacing"], "mtr": [], "mtd": ["columnalign"], "menclose": ["notation"],
    "mphantom": [], "semantics": [], "annotation": ["encoding"],
}
PROSE = ["p", "br", "hr", "div", "span", "pre", "code", "blockquote", "em", "strong", "b", "i", "u", "s", "del",
         "sub", "sup", "small", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd", "details",
         "summary", "table", "thead", "tbody", "tr", "th", "td", "caption", "a", "img", "abbr", "kbd", "var"]
ATTRIBUTES = {**MATHML, "*": ["class", "title"], "a": ["href", "title"], "img": ["src", "alt", "width", "height"],
              "th": ["align", "colspan", "rowspan"], "td": ["align", "colspan", "rowspan"], "ol": ["start"]}
# Links to web pages (no javascript:, vbscript: or data: link); images only embedded in the page, so that
# opening a submission makes no request as the instructor (a GET to her own server, a tracking pixel).
PROTOCOLS = ["http", "https", "mailto", "data"]
IMAGE_DATA = ("data:image/png;", "data:image/jpeg;", "data:image/gif;", "data:image/webp;", "data:image/svg+xml;")


def allowed_attribute(tag, name, value):
    """``ATTRIBUTES`` by tag; an image's source only embedded data, and ``data:`` URLs only there."""
    if name not in ATTRIBUTES.get(tag, []) + ATTRIBUTES["*"]:
        return False
    url = value.strip().lower()
    if tag == "img" and name == "src":
        return url.startswith(IMAGE_DATA)
    return not (name == "href" and url.startswith("data:"))


_CLEANER = bleach.Cleaner(tags=set(PROSE) | set(MATHML), attributes=allowed_attribute, protocols=PROTOCOLS,
                          strip=False, strip_comments=True)


def inert_html(html):
    """``html`` with nothing that can run: what is not on the allow-list is escaped and shows as text."""
    return _CLEANER.clean(html.decode() if isinstance(html, bytes) else str(html))


class InertMarkdown(LoggingConfigurable):
    """nbconvert's ``markdown2html`` filter (attachments, heading anchors, math), its HTML made inert.

    nbgrader's Formgrader and feedback templates render markdown cells without nbconvert's own sanitising, so
    the filter itself is replaced; a class, so that nbconvert hands it the exporter as its parent.
    """

    @pass_context
    def __call__(self, context, source):
        return inert_html(self.parent.markdown2html(context, source))

    jinja_pass_arg = __call__.jinja_pass_arg  # Jinja looks for it on the filter object itself
