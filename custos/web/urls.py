from django.contrib.auth import views as auth_views
from django.urls import path

from custos.web import capability_views, views
from custos.web import security_views as sec

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="web/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("otp/setup/", sec.otp_setup, name="otp-setup"),
    path("otp/verify/", sec.otp_verify, name="otp-verify"),
    path("loads/new/", views.upload, name="upload"),
    path("loads/<int:pk>/", views.load_detail, name="load"),
    path("loads/<int:pk>/status/", views.load_status, name="load-status"),
    path("loads/<int:pk>/errors/", views.load_error_report, name="load-error-report"),
    path("parties/", views.party_lookup, name="party-lookup"),
    path("parties/<int:party_id>/unmask/<str:field>/", sec.unmask_request, name="unmask"),
    path("unmask/<str:token>/", sec.unmask_value, name="unmask-value"),
    path("me/access/", sec.my_access, name="my-access"),
    path("audit/", sec.audit_log, name="audit-search"),
    path("audit/verification/", sec.audit_verification, name="audit-verification"),
    path("security/alerts/", sec.alerts, name="alerts"),
    path("security/alerts/<int:pk>/ack/", sec.alert_acknowledge, name="alert-ack"),
    path("security/keys/", sec.key_status, name="key-status"),
    path("security/keys/verify/", sec.key_status_verify, name="key-status-verify"),
    path("security/keys/rotate/", sec.key_rotate, name="key-rotate"),
    path("security/capabilities/", capability_views.capabilities, name="capabilities"),
]
