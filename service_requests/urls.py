from django.urls import path

from . import views

app_name = "service_requests"

urlpatterns = [
    path("", views.request_list, name="list"),
    path("new/", views.request_new, name="new"),
    path("<str:tracking_number>/", views.request_detail, name="detail"),
    path("<str:tracking_number>/confirmation/", views.request_confirmation, name="confirmation"),
    path("<str:tracking_number>/respond/", views.request_respond, name="respond"),
]
