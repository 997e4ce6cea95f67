from django.urls import path

from . import views

app_name = "service_requests"

urlpatterns = [
    path("", views.request_list, name="list"),
    path("new/", views.request_new, name="new"),
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
