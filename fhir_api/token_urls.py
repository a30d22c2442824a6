from django.urls import path

from . import token_views

urlpatterns = [
    path("homes/<int:home_id>/api-tokens/", token_views.api_tokens, name="api_tokens"),
    path(
        "homes/<int:home_id>/api-tokens/<int:token_id>/revoke/",
        token_views.api_token_revoke,
        name="api_token_revoke",
    ),
]
