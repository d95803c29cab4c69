"""The review queue: one back-office page of everything waiting for a person (compliance.queue), and an item
page to take it, see the beneficiary's history and decide with a reason in one step. Decisions go through
the services that own them: payouts.services (approve/reject a held payout), customers.services (verify or
reject a customer, clear an account's review flag)."""

from datetime import UTC, datetime, timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path

from audit.selectors import history
from compliance import queue
from compliance.admin_bases import ReadOnlyAdmin, row_id
from compliance.models import Assignment
from compliance.services import assignment_release, assignment_take
from core.errors import Conflict, InvalidParameters, NotPermitted
from customers.models import BankAccount, Customer
from customers.services import bank_account_review_clear, customer_verification_set
from merchants.models import Merchant
from payouts import holds
from payouts.models import Payout, PayoutApproval
from payouts.services import payout_approve, payout_reject

HISTORY_SHOWN = 10


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _cursor(token: str | None) -> queue.Cursor:
    """`after=<payout id>.<account flagged_at, µs since 1970>.<account id>` (queue.Cursor); anything else,
    a time past year 9999 included, is no cursor: the first page."""
    parts = [row_id(part) for part in (token or "").split(".")]
    if len(parts) != 3 or None in parts:
        return queue.START
    payout_id, micros, account_id = parts
    if not account_id:
        return queue.Cursor(payout_id)
    try:
        flagged_at = EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        return queue.START
    return queue.Cursor(payout_id, flagged_at, account_id)


def _token(cursor: queue.Cursor) -> str:
    micros = 0
    if cursor.account_flagged_at is not None:
        micros = (cursor.account_flagged_at - EPOCH) // timedelta(microseconds=1)
    return f"{cursor.payout_id}.{micros}.{cursor.account_id}"


@admin.register(Assignment)
class ReviewQueueAdmin(ReadOnlyAdmin):
    """Shown as "Review queue" in the compliance section; its list is the queue, not the assignment rows."""

    def get_urls(self):
        item = self.admin_site.admin_view(self.item_view)
        return [path("<str:kind>/<int:pk>/", item, name="compliance_review_item"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        params = request.GET
        filters = queue.Filters(
            reason=params.get("reason") if params.get("reason") in queue.REASONS else None,
            merchant_id=row_id(params.get("merchant")),
            assignee_id=request.user.pk if params.get("mine") == "1" else None,
        )
        page = queue.queue_page(filters, after=_cursor(params.get("after")))
        base = request.GET.copy()
        base.pop("after", None)
        next_query = None
        if page.next_cursor is not None:
            base["after"] = _token(page.next_cursor)
            next_query = base.urlencode()
        context = {
            **self.admin_site.each_context(request),
            "title": "Review queue",
            "opts": self.model._meta,
            "page": page,
            "filters": filters,
            "reasons": queue.REASONS,
            "merchants": Merchant.objects.order_by("name").only("name")[:500],
            "next_query": next_query,
            "paged": "after" in params,
        }
        return TemplateResponse(request, "admin/compliance/review_queue.html", context)

    def item_view(self, request, kind: str, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        if kind == queue.PAYOUT:
            obj = Payout.objects.select_related("merchant", "customer", "bank_account").filter(pk=pk).first()
        elif kind == queue.ACCOUNT:
            obj = BankAccount.objects.select_related("merchant", "customer").filter(pk=pk).first()
        else:
            raise Http404
        if obj is None:
            raise Http404
        if request.method == "POST":
            self._act(request, kind, obj)
            return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Review {obj.public_id}",
            "opts": self.model._meta,
            "kind": kind,
            "obj": obj,
            "assignment": queue.assignment_of(kind, pk),
            **self._beneficiary(kind, obj),
        }
        if kind == queue.PAYOUT:
            context["approvals"] = PayoutApproval.objects.filter(payout=obj).select_related("staff").order_by("id")
            context["four_eyes"] = holds.needs_four_eyes(obj.amount)
        return TemplateResponse(request, "admin/compliance/review_item.html", context)

    def _beneficiary(self, kind: str, obj) -> dict:
        """The beneficiary's history: other customers with the same number (by fingerprint), recent changes
        of its details (audit trail), its last payouts."""
        if kind == queue.PAYOUT:
            fingerprint, account, customer = obj.destination_fingerprint, obj.bank_account, obj.customer
        else:
            fingerprint, account, customer = obj.account_number_fingerprint, obj, obj.customer
        sharing = []
        if fingerprint:
            sharing = list(
                BankAccount.objects.filter(
                    merchant_id=obj.merchant_id, livemode=obj.livemode, account_number_fingerprint=fingerprint
                )
                .exclude(customer_id=customer.pk if customer else None)
                .select_related("customer")
                .order_by("-id")[:HISTORY_SHOWN]
            )
        trail = []
        if account is not None:
            trail.append((account.audit_events.all(), "bank account"))
        if customer is not None:
            trail.append((customer.audit_events.all(), "customer"))
        if customer is not None:
            payouts = Payout.objects.filter(customer_public_id=customer.public_id)
        else:
            payouts = Payout.objects.filter(
                merchant_id=obj.merchant_id, livemode=obj.livemode, destination_fingerprint=fingerprint
            )
        return {
            "customer": customer,
            "account": account,
            "sharing": sharing,
            "changes": history(*trail)[:HISTORY_SHOWN] if trail else [],
            "last_payouts": payouts.order_by("-id")[:HISTORY_SHOWN],
        }

    def _act(self, request, kind: str, obj) -> None:
        action = request.POST.get("action", "")
        reason = request.POST.get("reason", "")
        staff = request.user
        try:
            if action == "take":
                assignment_take(kind=kind, object_id=obj.pk, staff=staff)
                self.message_user(request, "Assigned to you.", messages.SUCCESS)
                return
            if "\x00" in reason:  # PostgreSQL refuses it in text: a 500 where the decision is written
                self.message_user(request, "The reason cannot contain a NUL character.", messages.ERROR)
                return
            if kind == queue.PAYOUT and action == "approve":
                payout = payout_approve(payout=obj, staff=staff, reason=reason)
                if payout.status == Payout.Status.HELD:
                    self.message_user(
                        request, "First approval recorded: a second analyst must approve it.", messages.SUCCESS
                    )
                    return
                done = "Payout approved: it is pending and will be paid."
            elif kind == queue.PAYOUT and action == "reject":
                payout_reject(payout=obj, staff=staff, reason=reason)
                done = "Payout rejected."
            elif kind == queue.ACCOUNT and action == "clear":
                bank_account_review_clear(account=obj, staff=staff, reason=reason)
                done = "Review flag cleared."
            elif kind == queue.ACCOUNT and action in ("verify", "reject_customer"):
                self._verify(request, obj.customer, action, reason)
                done = f"Customer {'verified' if action == 'verify' else 'rejected'}."
            else:
                raise PermissionDenied
        except (InvalidParameters, Conflict) as error:
            message = error.errors[0]["message"] if isinstance(error, InvalidParameters) else error.message
            self.message_user(request, message, messages.ERROR)
            return
        except NotPermitted as error:
            raise PermissionDenied(str(error)) from None
        assignment_release(kind=kind, object_id=obj.pk)
        self.message_user(request, done, messages.SUCCESS)

    @staticmethod
    def _verify(request, customer: Customer, action: str, reason: str) -> None:
        if not request.user.has_perm("customers.verify_customer"):
            raise PermissionDenied
        status = Customer.Verification.VERIFIED if action == "verify" else Customer.Verification.REJECTED
        customer_verification_set(customer=customer, status=status, reviewer=request.user, reason=reason)
