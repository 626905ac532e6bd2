"""The HTTP side of the server: every gRPC service over Connect, the console, sign-in links.

docs/guides/http-api.md shows the API with curl; docs/guides/console.md the console.
"""

from stigmer_server.web._app import http_app
from stigmer_server.web._bridge import ConnectBridge, ServiceRecorder
from stigmer_server.web._serve import HttpServer
from stigmer_server.web._tickets import SignInTickets

__all__ = ["ConnectBridge", "HttpServer", "ServiceRecorder", "SignInTickets", "http_app"]
