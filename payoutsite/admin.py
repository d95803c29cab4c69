"""Admin bases for the back-office: staff look here; every change goes through the services."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Staff look, never write here: every change goes through the services (API, commands)."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    """Rows shown on their parent's page (its `fields`, all read-only), never added or deleted there."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False
