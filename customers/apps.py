from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"

    def ready(self) -> None:
        from customers import checks  # noqa: F401  (registers the encryption start-up check)
