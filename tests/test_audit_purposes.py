"""Purposes custos writes into the audit log show in the reader's language; typed ones as typed."""

import pytest
from django.utils import translation

from custos.audit.purposes import purpose_label


@pytest.mark.parametrize(
    "purpose, zh, en",
    [
        ("search by policy_no; page 1", "按保单号查询，第 1 页", "Search by Policy number, page 1"),
        ("list; page 2", "清单，第 2 页", "List, page 2"),
        ("search action=lookup", "查询：操作=客户查询", "Search: Action=Customer lookup"),
        ("inclusion", "包含证明", "Inclusion proof"),
        ("extraction #3: 回访核实", "数据提取 #3：回访核实", "Extraction #3: 回访核实"),
        ("客户来电要求核对", "客户来电要求核对", "客户来电要求核对"),  # typed by a user: as written
    ],
)
def test_purpose_label(purpose, zh, en):
    with translation.override("zh-hans"):
        assert purpose_label(purpose) == zh
    with translation.override("en"):
        assert purpose_label(purpose) == en
