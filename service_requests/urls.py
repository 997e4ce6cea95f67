from django.urls import path

from . import views, views_filing

app_name = "service_requests"

urlpatterns = [
    path("", views.request_list, name="list"),
    path("new/", views.request_new, name="new"),
    path("new/sent/", views_filing.verify_sent, name="verify_sent"),
    path("new/verify/<str:token>/", views_filing.verify_link, name="verify"),
    path("new/<slug:step>/", views_filing.request_step, name="step"),
    path("claim/", views_filing.request_claim, name="claim"),
    path("<str:tracking_number>/", views.request_detail, name="detail"),
    path("<str:tracking_number>/confirmation/", views.request_confirmation, name="confirmation"),
    path("<str:tracking_number>/respond/", views.request_respond, name="respond"),
    path("<str:tracking_number>/withdraw/", views.request_withdraw, name="withdraw"),
    path("<str:tracking_number>/rate/", views.request_rate, name="rate"),
    path("<str:tracking_number>/attachments/", views.request_attach, name="attach"),
    path(
        "<str:tracking_number>/attachments/<int:pk>/",
        views.attachment_download,
        name="attachment",
    ),
]
