from django.apps import AppConfig


class PayoutsConfig(AppConfig):
    name = "payouts"

    def ready(self) -> None:
        from customers import signals
        from payouts import checks, services  # noqa: F401  (checks registers the system checks)

        # A decision fails the payouts it stops in its own transaction (payouts.stops).
        signals.customer_rejected.connect(services.payouts_stop_for_customer, dispatch_uid="payouts_stop_customer")
        signals.bank_account_disabled.connect(services.payouts_stop_for_account, dispatch_uid="payouts_stop_account")
