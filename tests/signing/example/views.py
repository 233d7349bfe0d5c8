# shop/views.py — the README example, served by the tests as it is written there.
from django.http import JsonResponse
from django.views import View

from django_apiauth.notifications import VerifiedNotificationMixin, verified_notification


@verified_notification("shop")
def payment_notification(request):
    """Payment notifications (hash scheme); runs only when the signature verifies."""
    notification = request.notification
    reference = notification.data["reference"]
    paid = notification.data["status"] == "completed"
    # ... mark the order `reference` as paid here. Only notification.data is signed:
    # notification.unsigned (metadata, additional_data) is untrusted input.
    return JsonResponse({"reference": reference, "paid": paid})


class TransferNotificationView(VerifiedNotificationMixin, View):
    """Transfer notifications (JWT scheme): ``data`` is the decoded token."""

    notification_credential = "shop"

    def post(self, request):
        data = request.notification.data
        return JsonResponse({"reference": data["reference"], "amount_cents": data["amount_cents"]})
