"""Rebuild custos/synth/data/area_codes.tsv: GB2260 prefecture code -> fixed-line area code.

Source: the Chinese geocoding data of the `phonenumbers` package (area code -> "省市" names),
matched by name against python-stdnum's GB2260 table. Prefectures with no match fall back to the
province capital's code at generation time. Run: .venv/bin/python -m custos.synth._build_area_codes
"""

from pathlib import Path

from custos.synth.places import PLACES


def build() -> list[tuple[str, str, str]]:
    from phonenumbers.geodata import GEOCODE_DATA

    by_name: dict[tuple[str, str], str] = {}
    for key in sorted(GEOCODE_DATA):
        if not key.startswith("86") or "zh" not in GEOCODE_DATA[key]:
            continue
        code = key[2:]
        if code != "10" and not (
            (len(code) == 2 and code[0] == "2") or (len(code) == 3 and code[0] in "3456789")
        ):
            continue
        desc = GEOCODE_DATA[key]["zh"]
        for prov in PLACES.provinces.values():
            if desc.startswith(prov.name):
                rest = desc[len(prov.name) :] or prov.name
                for city in rest.split("、"):
                    by_name.setdefault((prov.code, city), code)
                break
    rows = []
    for prov in PLACES.provinces.values():
        for pref in prov.prefectures:
            name = prov.name if pref.name == "市辖区" else pref.name
            code = by_name.get((prov.code, name))
            if code is None and prov.name in ("北京市", "上海市", "天津市", "重庆市"):
                code = by_name.get((prov.code, prov.name))
            if code:
                rows.append((pref.code, name, code))
    return rows


if __name__ == "__main__":
    out = Path(__file__).parent / "data" / "area_codes.tsv"
    rows = build()
    out.write_text("".join(f"{a}\t{b}\t{c}\n" for a, b, c in rows), encoding="utf-8")
    print(f"{len(rows)} prefectures -> {out}")
