from audit.context import actor


class AuditMiddleware:
    """Opens the request's audit context: staff are named here, API keys when they authenticate."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Back-office requests have a user (from their session); API requests have none (their key names
        # their actor when it authenticates: api/authentication.py).
        user = getattr(request, "user", None)
        name = f"staff:{user.get_username()}" if user is not None and user.is_authenticated else "anonymous"
        with actor(name, path=request.path, request_id=getattr(request, "request_id", "")):
            return self.get_response(request)
