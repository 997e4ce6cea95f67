from django.urls import path

from . import views

app_name = "allocations"

urlpatterns = [
    path("", views.round_list, name="rounds"),
    path("<int:round_id>/", views.round_detail, name="round"),
    path("<int:round_id>/snapshot.json", views.round_snapshot, name="snapshot"),
    path("<int:round_id>/vote/", views.round_vote, name="vote"),
]
