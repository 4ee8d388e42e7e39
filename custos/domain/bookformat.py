"""The book format (shared/book-format.md) as data: tables, columns, types, codes, keys, references.

Loader, snapshot writer, synthetic generator and check engines all read this one declaration.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "text"  # text | date | timestamp | int | decimal | month (YYYY-MM)
    required: bool = False  # the column must be present in the file
    not_empty: bool = False  # every row must have a value (keys, codes the format cannot do without)
    codes: str | None = None  # name of a code list in custos.domain.codes.LOOKUPS


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    required: bool = True
    # (column, table, key column) or (column, table, key column, (column, value)): a reference that
    # holds only on the rows where that other column has that value (a payee is a staff_no for an
    # agent's commission, a partner_code for an outlet's).
    references: tuple[tuple, ...] = field(default=())

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


C = Column
BRANCHES = Table(
    "branches",
    (
        C("branch_code", required=True, not_empty=True),
        C("name", required=True, not_empty=True),
        C("parent_code", required=True),
        C("level", required=True, not_empty=True, codes="branch_level"),
        C("address"),
        C("phone"),
    ),
    key=("branch_code",),
    references=(("parent_code", "branches", "branch_code"),),
)
STAFF = Table(
    "staff",
    (
        C("staff_no", required=True, not_empty=True),
        C("name", required=True, not_empty=True),
        C("gender", codes="gender"),
        C("id_type", codes="id_type"),
        C("id_no"),
        C("mobile"),
        C("address"),
        C("branch_code", required=True, not_empty=True),
        C("channel", codes="channel"),
        C("position", required=True, not_empty=True, codes="position"),
        C("supervisor_no"),
        C("hired_on", type="date"),
        C("left_on", type="date"),
    ),
    key=("staff_no",),
    references=(("branch_code", "branches", "branch_code"), ("supervisor_no", "staff", "staff_no")),
)
PARTNERS = Table(
    "partners",
    (
        C("partner_code", required=True, not_empty=True),
        C("name", required=True, not_empty=True),
        C("kind", required=True, not_empty=True, codes="partner_kind"),
        C("branch_code", required=True, not_empty=True),
        C("address"),
        C("phone"),
        C("contract_no"),
        C("contract_until", type="date"),
        C("status", required=True, not_empty=True, codes="partner_status"),
    ),
    key=("partner_code",),
    references=(("branch_code", "branches", "branch_code"),),
)
POLICIES = Table(
    "policies",
    (
        C("policy_no", required=True, not_empty=True),
        C("product_code"),
        C("product_name"),
        C("channel", required=True, not_empty=True, codes="channel"),
        C("branch_code", required=True, not_empty=True),
        C("agent_no", required=True),
        C("partner_code", required=True),
        C("applied_on", type="date", required=True),
        C("issued_on", type="date", required=True),
        C("status", required=True, not_empty=True, codes="policy_status"),
        C("term_years", type="int"),
        C("premium", type="decimal"),
        C("commission", type="decimal"),
    ),
    key=("policy_no",),
    references=(
        ("branch_code", "branches", "branch_code"),
        ("agent_no", "staff", "staff_no"),
        ("partner_code", "partners", "partner_code"),
    ),
)
PARTIES = Table(
    "parties",
    (
        C("policy_no", required=True, not_empty=True),
        C("role", required=True, not_empty=True, codes="role"),
        C("seq", type="int", required=True, not_empty=True),
        C("relation", codes="relation"),
        C("name", required=True),
        C("gender", required=True, codes="gender"),
        C("birth_date", type="date", required=True),
        C("id_type", required=True, codes="id_type"),
        C("id_no", required=True),
        C("id_valid_until", type="date"),
        C("nationality"),
        C("mobile"),
        C("phone"),
        C("address"),
        C("postcode"),
        C("email"),
        C("occupation_code"),
    ),
    key=("policy_no", "role", "seq"),
    references=(("policy_no", "policies", "policy_no"),),
)
CHANGES = Table(
    "changes",
    (
        C("policy_no", required=True, not_empty=True),
        C("role", required=True, not_empty=True, codes="role"),
        C("seq", type="int", required=True, not_empty=True),
        C("field", required=True, not_empty=True),
        C("old_value", required=True),
        C("new_value", required=True),
        C("changed_at", type="timestamp", required=True, not_empty=True),
        C("changed_by", required=True),
        C("request_no", required=True),
    ),
    key=("policy_no", "role", "seq", "field", "changed_at"),
    required=False,
    references=(("policy_no", "policies", "policy_no"), ("changed_by", "staff", "staff_no")),
)
VISITS = Table(
    "visits",
    (
        C("policy_no", required=True, not_empty=True),
        C("visited_at", type="timestamp", required=True, not_empty=True),
        C("method", required=True, not_empty=True, codes="visit_method"),
        C("contact", required=True),
        C("outcome", required=True, not_empty=True, codes="visit_outcome"),
        C("staff_no", required=True),
    ),
    key=("policy_no", "visited_at", "method"),
    required=False,
    references=(("policy_no", "policies", "policy_no"), ("staff_no", "staff", "staff_no")),
)
COMMISSIONS = Table(
    "commissions",
    (
        C("item_no", required=True, not_empty=True),
        C("policy_no", required=True, not_empty=True),
        C("payee_kind", required=True, not_empty=True, codes="payee_kind"),
        C("payee", required=True, not_empty=True),
        C("kind", required=True, not_empty=True, codes="commission_kind"),
        C("period", type="month", required=True, not_empty=True),
        C("amount", type="decimal", required=True, not_empty=True),
        C("paid_on", type="date"),
    ),
    key=("item_no",),
    required=False,
    references=(
        ("policy_no", "policies", "policy_no"),
        ("payee", "staff", "staff_no", ("payee_kind", "agent")),
        ("payee", "partners", "partner_code", ("payee_kind", "partner")),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t for t in (BRANCHES, STAFF, PARTNERS, POLICIES, PARTIES, CHANGES, VISITS, COMMISSIONS)
}
# Load order: a table's references point only to tables earlier in this order (or to itself).
LOAD_ORDER = ("branches", "staff", "partners", "policies", "parties", "changes", "visits", "commissions")
# The tables of the columnar snapshot the check engines read. Commission items stay in the database:
# money is exact there (the snapshot holds decimals as float64) and no check reads them.
SNAPSHOT_TABLES = tuple(t for t in LOAD_ORDER if t != "commissions")

# Party fields whose changes between loads are kept as history.
PARTY_VALUE_FIELDS = tuple(c.name for c in PARTIES.columns if c.name not in PARTIES.key)
# id_valid_until accepts these as "long-term" and stores 9999-12-31.
LONG_TERM = ("长期", "永久", "long-term", "9999-12-31")
