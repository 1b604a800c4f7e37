"""Browser pages: the web studio at / and the offline API explorer at /docs (not JSON API routes).

Each studio page is a small template plus one ES module in api/studio/static; the pages talk to the
public /v1 API only. Third-party browser code (plotly.js for charts, Swagger UI for /docs) is
served from the pip packages that ship it, never copied into this repository.
"""

from dataclasses import dataclass
from importlib import resources

from flask import Blueprint, abort, render_template, send_from_directory

blp = Blueprint("ui", __name__, template_folder="templates", static_folder="static",
                static_url_path="/ui-static")


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    summary: str
    charts: bool = False  # loads plotly.js


# endpoint -> page; the navigation bar lists them in this order.
PAGES = {
    "index": Page("/", "Runs", "jobs and models, live"),
    "build": Page("/build", "Build", "design a network and train it"),
    "job": Page("/job", "Job", "watch a job learn", charts=True),
    "model": Page("/model", "Model", "test metrics, mistakes, weights, card", charts=True),
    "playground": Page("/playground", "Playground", "draw a digit against a model", charts=True),
    "compare": Page("/compare", "Compare", "overlay jobs' curves, diff their specs; sweeps", charts=True),
    "step": Page("/step", "Step", "one training step, traced layer by layer"),
}
NAVIGATION = [(endpoint, page.title) for endpoint, page in PAGES.items()
              if endpoint not in ("job", "model")]  # these two need an id: reached by links

# File name under /vendor/ -> (pip package, path of the file inside it).
VENDOR_FILES = {"plotly.min.js": ("plotly", "package_data/plotly.min.js")}
SWAGGER_UI = ("flask_swagger_ui", "dist")  # Swagger UI's dist folder as that package ships it
VENDOR_MAX_AGE = 24 * 3600  # the files change only when the package is upgraded


def _page_view(endpoint, page):
    def view():
        return render_template(f"{endpoint}.html", page=page, endpoint=endpoint,
                               navigation=NAVIGATION)
    view.__name__ = endpoint
    view.__doc__ = f"The studio's {page.title} page: {page.summary}."
    return view


for _endpoint, _page in PAGES.items():
    blp.add_url_rule(_page.path, endpoint=_endpoint, view_func=_page_view(_endpoint, _page))


def _package_dir(package, inside):
    return str(resources.files(package).joinpath(inside))


@blp.get("/vendor/<name>")
def vendor(name):
    """A browser library from its installed pip package (see VENDOR_FILES)."""
    if name not in VENDOR_FILES:
        abort(404)
    package, path = VENDOR_FILES[name]
    directory, _, file_name = path.rpartition("/")
    return send_from_directory(_package_dir(package, directory), file_name, max_age=VENDOR_MAX_AGE)


@blp.get("/docs")
def docs():
    """Swagger UI on /openapi.json, from the files its pip package ships (works offline)."""
    return render_template("docs.html")


@blp.get("/docs/static/<path:filename>")
def swagger_ui(filename):
    """Swagger UI's own files (send_from_directory refuses paths that leave the folder)."""
    return send_from_directory(_package_dir(*SWAGGER_UI), filename, max_age=VENDOR_MAX_AGE)
