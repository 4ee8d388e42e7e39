"""Simplified Chinese unless the user chose otherwise.

Django's LocaleMiddleware follows the browser's Accept-Language; custos is an insurer's intranet
system whose working language is Chinese whatever the browser says, so only the language a user
picked with the switcher (the language cookie) overrides settings.LANGUAGE_CODE.
"""

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation


class ChineseByDefaultLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        supported = {code for code, _ in settings.LANGUAGES}
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
