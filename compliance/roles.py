"""The compliance roles, as Django groups. Staff without one see nothing in the back-office.

- Compliance analyst: views everything (merchants, keys, customers, bank accounts, payouts, events and
  webhook deliveries), verifies or rejects customers, clears accounts' review flags, approves or rejects
  held payouts (the review queue), takes queue items, and resends events; changes no money or account field.
- Compliance admin: the same, plus key management (revoke and roll merchants' API keys), a merchant's own
  hold threshold, revealing a full account number (each reveal is in the audit trail), and setting payout
  limits: lowering one applies at once, raising one waits for a second admin's approval (limits.services).
"""

ANALYST = "Compliance analyst"
ADMIN = "Compliance admin"
AUDITED_APPS = ("merchants", "customers", "payouts", "events", "limits")
ANALYST_EXTRA = (
    ("customers", "verify_customer"),
    ("events", "resend_event"),
    ("payouts", "decide_payout"),
    ("compliance", "add_assignment"),
    ("compliance", "view_assignment"),
)
ADMIN_EXTRA = (
    ("merchants", "change_apikey"),
    ("merchants", "change_merchant"),
    ("customers", "reveal_account_number"),
    ("limits", "set_limits"),
    ("limits", "approve_limit_change"),
)


def sync_roles(group_model, permission_model) -> None:
    """Create or reset both groups with their permissions (models passed in: the migration's historical ones)."""

    def permissions(pairs):
        # filter, not get: an earlier migration syncs before later ones have created every permission.
        return [
            p
            for app, code in pairs
            for p in permission_model.objects.filter(content_type__app_label=app, codename=code)
        ]

    views = list(
        permission_model.objects.filter(content_type__app_label__in=AUDITED_APPS, codename__startswith="view_")
    )
    analyst, _ = group_model.objects.get_or_create(name=ANALYST)
    analyst.permissions.set([*views, *permissions(ANALYST_EXTRA)])
    admin, _ = group_model.objects.get_or_create(name=ADMIN)
    admin.permissions.set([*views, *permissions(ANALYST_EXTRA), *permissions(ADMIN_EXTRA)])


def install_roles(apps, schema_editor) -> None:
    """The migrations' step: create the permissions now (Django normally does after all migrations run),
    then sync the groups with them."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))
