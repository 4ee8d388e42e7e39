"""What the book says about each read: the reader's position, branch, channel, peer group and
supervisor, and whether the customer was theirs (docs/watch.md, "Own portfolio").

The book's current rows become small Arrow tables registered on the DuckDB connection that reads the
history; `enriched_sql` joins them to the reads.
"""

from __future__ import annotations

from collections import Counter

import duckdb
import pyarrow as pa

from custos.watch import conf

BATCH = 50_000


def _branch_paths() -> dict[str, str]:
    from custos.book.models import Branch

    rows = list(Branch.objects.values_list("branch_code", "parent_code", "path"))
    parent = {c: p for c, p, _ in rows}
    out = {}
    for code, _, path in rows:
        if path:
            out[code] = path
            continue
        chain, seen, cur = [], set(), code
        while cur and cur not in seen:  # walk up where the path is not materialised
            seen.add(cur)
            chain.append(cur)
            cur = parent.get(cur, "")
        out[code] = "/" + "/".join(reversed(chain)) + "/"
    return out


def peer_groups(staff: list[tuple[str, str, str, str]]) -> dict[str, str]:
    """staff_no -> peer group for [(staff_no, position, branch_code, channel)]: position × branch
    when at least `min_peers` share it, else position × channel, else the position alone."""
    min_peers = int(conf.get("min_peers"))
    by_branch = Counter((p, b) for _, p, b, _ in staff)
    by_channel = Counter((p, c) for _, p, _, c in staff)
    out = {}
    for no, pos, branch, channel in staff:
        if by_branch[(pos, branch)] >= min_peers:
            out[no] = f"{pos}@{branch}"
        elif channel and by_channel[(pos, channel)] >= min_peers:
            out[no] = f"{pos}@{channel}"
        else:
            out[no] = pos
    return out


def register(con: duckdb.DuckDBPyConnection, world=None) -> None:
    """Register the book's tables on con: w_staff, w_partner, w_policy, w_branch, w_canary — from the
    database, or from a simulated `world` (custos.watch.simulate.World: the benchmark's)."""
    if world is not None:
        return _register(con, *_from_world(world))
    from custos.book.models import Partner, Policy, Staff
    from custos.extraction.models import Canary

    paths = _branch_paths()
    staff = list(Staff.objects.values_list("staff_no", "position", "branch_code", "channel", "supervisor_no"))
    partners = list(Partner.objects.values_list("partner_code", "kind", "branch_code"))
    qs = Policy.objects.values_list("policy_no", "agent_no", "partner_code", "branch_code").order_by()
    policies = qs.iterator(chunk_size=BATCH)
    canaries = list(Canary.objects.values_list("policy_no", flat=True))
    return _register(con, paths, staff, partners, policies, canaries)


def _from_world(world) -> tuple:
    paths = {}
    for code in world.branches:
        chain, cur = [], code
        while cur:
            chain.append(cur)
            cur = world.branches.get(cur, "")
        paths[code] = "/" + "/".join(reversed(chain)) + "/"
    staff = [
        (p.staff_no, p.position, p.branch_code, p.channel, p.supervisor_no)
        for p in world.people
        if p.position != "partner"
    ]
    partners = [(c, "bank", b) for c, b in world.partners.items()]
    policies = ((p.policy_no, p.agent_no, p.partner_code, p.branch_code) for p in world.policies)
    return paths, staff, partners, policies, []


def _register(con, paths, staff, partners, policies, canaries) -> None:
    groups = peer_groups([(s[0], s[1], s[2], s[3]) for s in staff])
    supervisor = {s[0]: s[4] for s in staff}
    con.register(
        "w_staff",
        pa.table(
            {
                "staff_no": [s[0] for s in staff],
                "position": [s[1] for s in staff],
                "branch_code": [s[2] for s in staff],
                "channel": [s[3] for s in staff],
                "supervisor_no": [s[4] for s in staff],
                "peer_group": [groups[s[0]] for s in staff],
                "branch_path": [paths.get(s[2], f"/{s[2]}/") for s in staff],
            },
            schema=pa.schema(
                [
                    (n, pa.string())
                    for n in (
                        "staff_no",
                        "position",
                        "branch_code",
                        "channel",
                        "supervisor_no",
                        "peer_group",
                        "branch_path",
                    )
                ]
            ),
        ),
    )
    con.register(
        "w_partner",
        pa.table(
            {
                "partner_code": [p[0] for p in partners],
                "kind": [p[1] for p in partners],
                "branch_path": [paths.get(p[2], f"/{p[2]}/") for p in partners],
            },
            schema=pa.schema(
                [("partner_code", pa.string()), ("kind", pa.string()), ("branch_path", pa.string())]
            ),
        ),
    )
    cols: dict[str, list] = {
        k: [] for k in ("policy_no", "agent_no", "agent_supervisor", "partner_code", "branch_path")
    }
    for no, agent, partner, branch in policies:
        cols["policy_no"].append(no)
        cols["agent_no"].append(agent or "")
        cols["agent_supervisor"].append(supervisor.get(agent or "", ""))
        cols["partner_code"].append(partner or "")
        cols["branch_path"].append(paths.get(branch, f"/{branch}/"))
    con.register("w_policy", pa.table(cols, schema=pa.schema([(k, pa.string()) for k in cols])))
    con.register(
        "w_canary", pa.table({"policy_no": canaries}, schema=pa.schema([("policy_no", pa.string())]))
    )


def enriched_sql(history: str) -> str:
    """SELECT of every read with the book's context: position, branch_code, channel, peer_group,
    supervisor_no, own (NULL when no policy is named or the book lacks it), in_branch, canary."""
    return f"""
    SELECT r.*,
      coalesce(s.position, CASE WHEN r.partner_code <> '' THEN 'partner' ELSE 'unknown' END) AS position,
      coalesce(s.branch_code, '') AS branch_code,
      coalesce(s.channel, '') AS channel,
      coalesce(s.peer_group, CASE WHEN r.partner_code <> '' THEN 'partner@' || coalesce(pt.kind, '?')
                                  ELSE 'unknown' END) AS peer_group,
      coalesce(s.supervisor_no, '') AS supervisor_no,
      CASE
        WHEN p.policy_no IS NULL THEN NULL
        WHEN r.partner_code <> '' THEN p.partner_code = r.partner_code
        WHEN s.staff_no IS NULL THEN false
        WHEN s.position = 'agent' THEN p.agent_no = r.staff_no
        WHEN s.position = 'sales_manager' THEN p.agent_no = r.staff_no OR p.agent_supervisor = r.staff_no
        ELSE starts_with(p.branch_path, s.branch_path)
      END AS own,
      CASE
        WHEN p.policy_no IS NULL THEN NULL
        WHEN coalesce(s.branch_path, pt.branch_path) IS NULL THEN false
        ELSE starts_with(p.branch_path, coalesce(s.branch_path, pt.branch_path))
      END AS in_branch,
      (c.policy_no IS NOT NULL) AS canary
    FROM {history} r
    LEFT JOIN w_staff s ON s.staff_no = (CASE WHEN r.partner_code = '' THEN r.staff_no END)
    LEFT JOIN w_partner pt ON pt.partner_code = nullif(r.partner_code, '')
    LEFT JOIN w_policy p ON p.policy_no = nullif(r.policy_no, '')
    LEFT JOIN (SELECT DISTINCT policy_no FROM w_canary) c ON c.policy_no = nullif(r.policy_no, '')
    """
