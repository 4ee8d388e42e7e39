"""A URLconf for tests/test_web_shell.py: the project's URLs and handlers, and a view that fails."""

from django.urls import path

from custos.urls import handler403, handler404, handler500, urlpatterns  # noqa: F401


def boom(request):
    raise RuntimeError("a bug")


urlpatterns = [path("boom/", boom), *urlpatterns]
