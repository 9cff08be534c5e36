"""Show students the student tools only: Validate and the assignment list, not the instructor's.

nbgrader installs its instructor tools (Formgrader, the Create Assignment sidebar, the course list)
for everyone who installs it. On a student's own machine or on Binder, run from the repository:

    python hub/tools_by_role.py student       # this environment's JupyterLab shows student tools only
    python hub/tools_by_role.py instructor    # all of nbgrader's tools again

The settings are written to this environment's Jupyter folder (``sys.prefix/etc/jupyter``), or to
``--config-dir``; other settings in the files written are kept. ``hub/deploy.py`` writes each role's
settings on a hub with the same function.
"""
import argparse
import json
import sys
from pathlib import Path

INSTRUCTOR_SERVER_EXTENSIONS = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list")
INSTRUCTOR_LAB_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                          "@jupyter/nbgrader:course-list")


def write_jupyter_settings(folder, instructor):
    """Turn nbgrader's instructor tools on (instructor) or off (student) in the Jupyter settings folder."""
    folder = Path(folder)
    update_json(folder / "jupyter_server_config.json", ("ServerApp", "jpserver_extensions"),
                {name: instructor for name in INSTRUCTOR_SERVER_EXTENSIONS})
    update_json(folder / "labconfig" / "page_config.json", ("disabledExtensions",),
                {name: not instructor for name in INSTRUCTOR_LAB_PLUGINS})


def update_json(path, keys, values):
    """Set ``values`` in the JSON object at ``keys`` of the file at ``path``, keeping everything else."""
    try:
        settings = json.loads(path.read_text()) if path.exists() else {}
    except json.JSONDecodeError as error:
        raise SystemExit(f"{path} is not valid JSON ({error}); fix or remove it, then run this again")
    section = settings
    for key in keys:
        section = section.setdefault(key, {})
    section.update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=("student", "instructor"))
    parser.add_argument("--config-dir", type=Path, default=Path(sys.prefix) / "etc" / "jupyter",
                        help="the Jupyter settings folder to write (default: this environment's)")
    args = parser.parse_args(argv)
    write_jupyter_settings(args.config_dir, instructor=args.role == "instructor")
    print(f"{args.config_dir}: nbgrader's instructor tools are "
          f"{'on' if args.role == 'instructor' else 'off'}; restart JupyterLab to see the change")


if __name__ == "__main__":
    main()
