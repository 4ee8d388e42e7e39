"""The capability table as a read-only page for IT security and auditors (custos/access/capabilities.py)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from custos.access.capabilities import require, second_factor_roles, table
from custos.access.models import Role


@login_required
def capabilities(request):
    require(request.user, "access.table")
    otp = second_factor_roles()
    roles = [{"code": code, "label": label, "otp": code in otp} for code, label in Role.choices]
    return render(request, "web/capabilities.html", {"roles": roles, "rows": table()})
