"""Student notebooks as nbgrader releases them, with stubs that say what to write."""
import re

from nbgrader import utils
from nbgrader.preprocessors import ClearSolutions

_STUB = re.compile(r"^(?P<indent>\s*)raise NotImplementedError\(\)\s*$")
_DEFINITION = re.compile(r"^(?P<indent>\s*)(?:async\s+)?(?P<kind>def|class)\s+(?P<name>\w+)")


def name_stubs(source: str) -> str:
    """Give each bare ``raise NotImplementedError()`` the name of the function it stands in.

    ``ConvEncoder.__init__`` for a stub inside that method, ``kl_weight`` for one inside that
    function; a stub outside any definition says only what to do.
    """
    lines, enclosing = source.split("\n"), []  # enclosing: (indent, name) of open definitions
    for number, line in enumerate(lines):
        definition = _DEFINITION.match(line)
        if definition:
            indent = len(definition["indent"])
            enclosing = [(i, name) for i, name in enclosing if i < indent] + [(indent, definition["name"])]
            continue
        stub = _STUB.match(line)
        if not stub:
            continue
        indent = len(stub["indent"])
        names = [name for i, name in enclosing if i < indent]
        what = f"{'.'.join(names)} is yours to write" if names else "this exercise is yours to do"
        lines[number] = f'{stub["indent"]}raise NotImplementedError("{what}: replace this line with your code.")'
    return "\n".join(lines)


class ClearSolutionsNamingTheExercise(ClearSolutions):
    """nbgrader's ``ClearSolutions``, whose stubs then name the function to write.

    A bare ``NotImplementedError:`` tells a student who pressed *Run All* nothing; this one says
    e.g. ``NotImplementedError: kl_to_standard_normal is yours to write: replace this line ...``.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.cell_type == "code" and utils.is_solution(cell):
            cell.source = name_stubs(cell.source)
        return cell, resources
