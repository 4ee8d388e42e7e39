"""django-axes' lock-out check as the first authentication backend.

Axes needs the request to know who is trying; every password entry point of custos (the login page,
the admin login) passes it. A call without a request (Django's test client `login`, a shell) cannot be
a brute-force attempt over the network and is left to the next backend."""

from axes.backends import AxesStandaloneBackend


class LockoutBackend(AxesStandaloneBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
