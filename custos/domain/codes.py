"""Code lists of the book format (shared/book-format.md). Input accepts the English code or any
Chinese label; storage and engines always use the English code."""

from types import MappingProxyType

CHANNEL = {
    "bancassurance": ("银保",),
    "agency": ("个险",),
    "group": ("团险",),
    "internet": ("网销",),
    "telesales": ("电销",),
    "broker": ("中介",),
}
ID_TYPE = {
    "resident_id": ("居民身份证", "身份证"),
    "household_register": ("户口簿",),
    "birth_certificate": ("出生证",),
    "passport": ("护照",),
    "military_id": ("军官证",),
    "hk_macau_permit": ("港澳居民来往内地通行证",),
    "taiwan_permit": ("台湾居民来往大陆通行证",),
    "hmt_residence_permit": ("港澳台居民居住证",),
    "foreign_permanent_id": ("外国人永久居留身份证",),
    "other": ("其他",),
}
RELATION = {
    "self": ("本人",),
    "spouse": ("配偶",),
    "father": ("父亲",),
    "mother": ("母亲",),
    "son": ("儿子",),
    "daughter": ("女儿",),
    "grandfather": ("祖父", "外祖父", "祖父/外祖父"),
    "grandmother": ("祖母", "外祖母", "祖母/外祖母"),
    "grandson": ("孙子", "外孙子", "孙子/外孙子"),
    "granddaughter": ("孙女", "外孙女", "孙女/外孙女"),
    "elder_brother": ("哥哥",),
    "younger_brother": ("弟弟",),
    "elder_sister": ("姐姐",),
    "younger_sister": ("妹妹",),
    "father_in_law": ("公公", "岳父", "公公/岳父"),
    "mother_in_law": ("婆婆", "岳母", "婆婆/岳母"),
    "son_in_law": ("女婿",),
    "daughter_in_law": ("儿媳",),
    "employer": ("雇主",),
    "employee": ("雇员",),
    "other": ("其他",),
}
ROLE = {"applicant": ("投保人",), "insured": ("被保险人",), "beneficiary": ("受益人",)}
GENDER = {"M": ("男", "m"), "F": ("女", "f")}
BRANCH_LEVEL = {
    "head": ("总公司",),
    "province": ("分公司",),
    "city": ("中心支公司",),
    "county": ("支公司",),
    "outlet": ("营业部", "网点", "营业部/网点"),
}
POSITION = {
    "agent": ("业务员",),
    "sales_manager": ("销售主管",),
    "operations": ("运营",),
    "customer_service": ("客服",),
    "compliance": ("合规",),
    "finance": ("财务",),
    "it": ("信息技术",),
    "executive": ("总经理室",),
    "other": ("其他",),
}
PARTNER_KIND = {
    "bank": ("银行",),
    "post": ("邮政",),
    "broker": ("经纪",),
    "agency": ("专业代理",),
    "other_agency": ("兼业代理",),
}
PARTNER_STATUS = {"active": ("有效",), "suspended": ("暂停",), "terminated": ("终止",)}
POLICY_STATUS = {
    "in_force": ("有效",),
    "lapsed": ("失效",),
    "surrendered": ("退保",),
    "matured": ("满期",),
    "terminated": ("终止",),
}
VISIT_METHOD = {
    "phone": ("电话",),
    "sms": ("短信",),
    "wechat": ("微信",),
    "onsite": ("上门",),
    "letter": ("信函",),
}
VISIT_OUTCOME = {
    "success": ("成功",),
    "no_answer": ("无人接听",),
    "wrong_number": ("错号",),
    "refused": ("拒访",),
    "mismatch": ("不符",),
}


def _lookup(table: dict[str, tuple[str, ...]]) -> MappingProxyType:
    out: dict[str, str] = {}
    for code, labels in table.items():
        out[code] = code
        out[code.lower()] = code
        for label in labels:
            out[label] = code
    return MappingProxyType(out)


PAYEE_KIND = {"agent": ("业务员", "佣金"), "partner": ("合作机构", "手续费")}
COMMISSION_KIND = {
    "first_year": ("首年",),
    "renewal": ("续期",),
    "bonus": ("奖励",),
    "adjustment": ("调整",),
}

LOOKUPS = {
    name: _lookup(table)
    for name, table in {
        "channel": CHANNEL,
        "id_type": ID_TYPE,
        "relation": RELATION,
        "role": ROLE,
        "gender": GENDER,
        "branch_level": BRANCH_LEVEL,
        "position": POSITION,
        "partner_kind": PARTNER_KIND,
        "partner_status": PARTNER_STATUS,
        "policy_status": POLICY_STATUS,
        "visit_method": VISIT_METHOD,
        "visit_outcome": VISIT_OUTCOME,
        "payee_kind": PAYEE_KIND,
        "commission_kind": COMMISSION_KIND,
    }.items()
}


def to_code(kind: str, value: str) -> str | None:
    """English code for an input value (code or Chinese label), None when unknown."""
    return LOOKUPS[kind].get(value.strip())
