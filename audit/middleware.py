from audit.context import actor


class AuditMiddleware:
    """Opens the request's audit context: staff are named here, API keys when they authenticate."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user  # a cookie-less API request has no session: no query
        name = f"staff:{user.get_username()}" if user.is_authenticated else "anonymous"
        with actor(name, path=request.path, request_id=getattr(request, "request_id", "")):
            return self.get_response(request)
