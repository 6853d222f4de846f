"""An app's own middleware, innermost: app code between the probe and the view."""


class PassThroughMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)
