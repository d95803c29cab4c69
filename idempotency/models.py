from django.db import models
from django.utils import timezone

from merchants.models import Merchant


class IdempotencyKey(models.Model):
    """A client's Idempotency-Key, scoped to merchant and mode, with the response it produced. Only
    completed requests are stored (see idempotency.services)."""

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="+", db_index=False)
    livemode = models.BooleanField()
    key = models.CharField(max_length=255)
    request_method = models.CharField(max_length=10)
    request_path = models.CharField(max_length=300)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    # Text, not JSON: a replay must be the same bytes, and jsonb would reorder keys.
    response_body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merchant", "livemode", "key"], name="idempotency_key_unique"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_created")]

    def __str__(self) -> str:
        return f"{self.key[:40]} ({self.response_status})"
