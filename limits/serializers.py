"""GET /limits: its query (shape checks) and its output (documentation of the shape; camelCase here only)."""

from rest_framework import serializers

from api.serializers import PublicIdField, StrictInputSerializer

MONEY = {"type": "string", "example": "5000.00"}


class LimitsQuery(StrictInputSerializer):
    customerId = PublicIdField("cust", source="customer_public_id", required=False)


def _money(help_text: str) -> serializers.CharField:
    return serializers.CharField(allow_null=True, help_text=help_text)


class SingleLimitOutput(serializers.Serializer):
    amount = _money("The maximum single payout, ARS; null: none.")


class DailyLimitOutput(serializers.Serializer):
    amount = _money("The maximum total per day, ARS; null: none.")
    used = _money("Paid out today so far: payouts created today that have not failed or been canceled.")
    remaining = _money("What payouts today may still add up to; null when there is no limit.")


class CustomerDailyLimitOutput(serializers.Serializer):
    customerId = serializers.CharField(allow_null=True, help_text="The customer asked for with ?customerId=.")
    amount = _money("The maximum paid to one customer per day, ARS; null: none.")
    used = _money("Paid to that customer today (null without ?customerId=).")
    remaining = _money("What payouts to that customer may still add up to today (null without a limit or customer).")


class LimitsOutput(serializers.Serializer):
    object = serializers.CharField(default="limits")
    livemode = serializers.BooleanField()
    currency = serializers.CharField(default="ARS")
    day = serializers.DateField(help_text="Today in Argentina, the day the daily limits count.")
    timeZone = serializers.CharField(default="America/Argentina/Buenos_Aires")
    resetsAt = serializers.DateTimeField(help_text="When today's usage resets: the next midnight in Argentina.")
    single = SingleLimitOutput()
    daily = DailyLimitOutput()
    customerDaily = CustomerDailyLimitOutput()
