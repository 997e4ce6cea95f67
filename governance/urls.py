from django.urls import path

from . import views

app_name = "governance"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("cases/<int:case_id>/", views.case_detail, name="case"),
]
