from django.conf import settings
from django.db import models
from django.utils import timezone


class Assignment(models.Model):
    """Who took an item of the review queue ("assigned to me"), visible to every analyst. One per item;
    taking an item someone else has moves it (the queue shows whose it was)."""

    class Kind(models.TextChoices):
        PAYOUT = "payout"
        BANK_ACCOUNT = "bank_account"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    object_id = models.BigIntegerField()  # the payout's or bank account's primary key
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # The admin lists this model as the review queue (compliance.admin), whose items these rows assign.
        verbose_name = "review queue"
        verbose_name_plural = "review queue"
        constraints = [models.UniqueConstraint(fields=["kind", "object_id"], name="assignment_one_per_item")]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id} → {self.assignee_id}"
