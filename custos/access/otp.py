"""Checking a TOTP code with a throttle people can live with.

django-otp's own throttle (OTP_TOTP_THROTTLE_FACTOR) makes the next attempt wait 1, 2, 4 … seconds
from the first wrong code: someone who mistypes once and corrects at once was told "too many attempts"
(issue 18). custos turns that throttle off (settings.OTP_TOTP_THROTTLE_FACTOR = 0) and keeps the
device's failure count (django-otp still counts): FREE_FAILURES wrong codes in a row are free, then
each further attempt waits FIRST_WAIT seconds, doubling, at most MAX_WAIT. Six digits at that pace
cannot be guessed; a right code resets the count.
"""

from __future__ import annotations

import math

from django.utils import timezone

FREE_FAILURES = 3
FIRST_WAIT = 30
MAX_WAIT = 15 * 60


def wait_seconds(device) -> int:
    """Seconds before the device may be tried again (0: now)."""
    failures = device.throttling_failure_count or 0
    last = device.throttling_failure_timestamp
    if failures < FREE_FAILURES or last is None:
        return 0
    required = min(FIRST_WAIT * 2 ** (failures - FREE_FAILURES), MAX_WAIT)
    left = required - (timezone.now() - last).total_seconds()
    return max(0, math.ceil(left))


def check(device, token: str) -> tuple[bool, int]:
    """(verified, seconds to wait). A code sent while the device must wait is not tried at all."""
    wait = wait_seconds(device)
    if wait:
        return False, wait
    if device.verify_token(token):
        return True, 0
    return False, wait_seconds(device)
