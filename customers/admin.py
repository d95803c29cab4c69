from django.contrib import admin

from customers.models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    """Read-only for now: customers change through the API's services only."""

    list_display = ("public_id", "name", "type", "country", "merchant", "livemode", "created_at", "last_out")
    list_filter = ("livemode", "type", "country")
    search_fields = ("=public_id", "name", "email")
    list_select_related = ("merchant",)
    show_full_result_count = False
    readonly_fields = [field.name for field in Customer._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
