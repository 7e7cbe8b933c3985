"""Checks that code finds its files, its metadata and its plugins, printed as JSON."""

import json
import os
import ssl
import sys
from importlib import metadata, resources


def main() -> None:
    here = os.path.dirname(__file__)
    results = {}
    with open(os.path.join(here, "data", "answer.txt")) as f:
        results["file_next_to_code"] = f.read().strip()
    results["importlib_resources"] = resources.files("datafiles").joinpath("static/site.css").read_text().strip()

    import flask

    app = flask.Flask("datafiles", root_path=here)
    with app.test_request_context():
        results["flask_template"] = flask.render_template("page.html", name="Flask")
    results["flask_static"] = app.test_client().get("/static/site.css").data.decode().strip()

    import django
    from django.conf import settings

    settings.configure(
        TEMPLATES=[
            {"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [os.path.join(here, "templates")]}
        ],
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
        USE_I18N=True,
        LANGUAGE_CODE="fr",
    )
    django.setup()
    from django.template.loader import render_to_string
    from django.utils import translation

    results["django_template"] = render_to_string("page.html", {"name": "Django"}).strip()
    with translation.override("fr"):
        results["django_translation"] = translation.gettext("This field is required.")  # from .mo files
    results["versions"] = {name: metadata.version(name) for name in ("django", "flask", "certifi")}
    scripts = {ep.name: ep.value for ep in metadata.entry_points(group="console_scripts")}
    results["plugin_from_other_distribution"] = scripts.get("django-admin")
    results["pth_file_ran"] = "_distutils_hack" in sys.modules

    import zoneinfo

    zoneinfo.reset_tzpath(to=[])  # only the tzdata package may answer
    results["tzdata"] = str(zoneinfo.ZoneInfo("Europe/Paris").utcoffset(__import__("datetime").datetime(2024, 1, 1)))

    import certifi

    context = ssl.create_default_context(cafile=certifi.where())
    results["certifi_cas"] = context.cert_store_stats()["x509_ca"] > 50

    from dfns.part import VALUE

    results["namespace_package"] = VALUE
    print(json.dumps(results, sort_keys=True))
