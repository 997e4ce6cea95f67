from django.urls import path

from . import views

app_name = "governance"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("cases/<int:case_id>/", views.case_detail, name="case"),
    path("cases/<int:case_id>/recall/", views.case_recall, name="case_recall"),
    path("delegations/", views.delegations, name="delegations"),
    path(
        "delegations/<int:delegation_id>/revoke/",
        views.delegation_revoke,
        name="delegation_revoke",
    ),
    path("oversight/authority/", views.authority_report, name="authority_report"),
]
