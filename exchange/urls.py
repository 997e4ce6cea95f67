from django.urls import path

from . import views

app_name = "exchange"

urlpatterns = [
    path("", views.round_list, name="rounds"),
    path("<int:round_id>/", views.round_page, name="round"),
    path("<int:round_id>/items/<int:item_id>/photo", views.item_photo, name="photo"),
    path("<int:round_id>/results/", views.round_results, name="results"),
    path("<int:round_id>/snapshot.json", views.round_snapshot, name="snapshot"),
]
