from django.apps import AppConfig


class LimitsConfig(AppConfig):
    name = "limits"

    def ready(self) -> None:
        from core import db
        from limits import services

        # The database refuses a payout over a limit inside the request's write batch; this turns that
        # refusal into the API's 4xx, wherever the batch is sent (core.db).
        db.register_refusal(services.LIMIT_EXCEEDED_SQLSTATE, services.limit_exceeded_from_detail)
