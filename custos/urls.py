from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("custos.api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("findings/", include("custos.checks.urls")),
    path("extractions/", include("custos.extraction.urls")),
    path("remediation/", include("custos.remediation.urls")),
    path("screening/", include("custos.screening.urls")),
    path("security/integrity/", include("custos.integrity.urls")),
    path("security/watch/", include("custos.watch.urls")),
    path("commission/", include("custos.commission.urls")),
    path("report/", include("custos.report.urls")),
    path("partnership/", include("custos.partnership.urls")),
    path("discipline/", include("custos.discipline.urls")),
    path("blacklist/", include("custos.blacklist.urls")),
    path("persons/", include("custos.identity.urls")),
    path("", include("custos.web.urls")),
]

handler403 = "custos.web.views.forbidden"
handler404 = "custos.web.errors.not_found"
handler500 = "custos.web.errors.server_error"
