from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    """The back-office's roles (and, as it grows, its audit trail): what compliance staff may do."""

    name = "compliance"
