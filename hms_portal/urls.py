from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from hms_portal import health
from service_requests import views as request_views

admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
admin.site.site_header = "HMS-ACH portal"

# 503 with Retry-After while the database is away, else 500; never touches the database.
handler500 = "hms_portal.errors.server_error"

urlpatterns = [
    # Load balancers' probes; HealthCheckMiddleware answers them before any other middleware.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", request_views.home, name="home"),
    path("requests/", include("service_requests.urls")),
    path("track/", request_views.track, name="track"),
    path("portfolio/", include("participants.urls")),
    path("workflow/", include("governance.urls")),
    path("oversight/", include("oversight.urls")),
    path("rounds/", include("allocations.urls")),
    path("exchange/", include("exchange.urls")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("hms_portal.api_urls")),
    path("o/", include("integrations.oauth_urls", namespace="oauth2_provider")),
    path("open311/v2/", include("integrations.open311_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
